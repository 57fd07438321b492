namespace StreamMtl.Pipeline.Model;

/// <summary>
/// Reuse state of a run of blocks that one task owns (the shared trunk 1..l, or a task's blocks l+1..L
/// with its head). A branch gates against its own previous frame, so it is only warm when it also ran on
/// the frame before; a task that was not subscribed for a while is recomputed in full when it comes back.
/// </summary>
internal sealed class BranchReuseState : IDisposable
{
    public BranchReuseState(int firstBlock, int blocks, bool hasHead, float threshold)
    {
        FirstBlock = firstBlock;
        Blocks = Enumerable.Range(0, blocks).Select(_ => new BlockReuseState(threshold)).ToArray();
        Head = hasHead ? new TokenGate(threshold) : null;
        Input = hasHead ? new TokenGate(threshold) : null;
    }

    public int FirstBlock { get; }

    public BlockReuseState[] Blocks { get; }

    public TokenGate? Head { get; }

    /// <summary>
    /// A task branch's input as of each token's last recompute (the propagated pass, <see cref="GatedPass.Propagates"/>):
    /// scored only when the branch resumes after frames it was held (a reduced compute level), when the trunk's rows of
    /// this frame do not cover what moved since the branch last ran.
    /// </summary>
    public TokenGate? Input { get; }

    /// <summary>Bit mask of the units that ran upstream of the head at its last run; null while cold.</summary>
    public long? HeadUpstream { get; set; }

    /// <summary>Frame index this branch last ran on; null when cold.</summary>
    public long? LastFrame { get; set; }

    public BlockReuseState Block(int index) => Blocks[index - FirstBlock];

    /// <summary>
    /// True when the branch ran on the stream's previous processed frame (<paramref name="previousFrame"/>),
    /// so its buffers describe that frame. Indices may skip (dropped frames); what matters is that the
    /// branch did not miss a frame the stream processed.
    /// </summary>
    public bool IsWarmFor(long? previousFrame) => LastFrame is not null && LastFrame == previousFrame;

    public void Reset()
    {
        foreach (var block in Blocks)
        {
            block.Reset();
        }
        Head?.Reset();
        Input?.Reset();
        HeadUpstream = null;
        LastFrame = null;
    }

    public void Dispose() => Reset();
}
