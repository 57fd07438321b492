using static TorchSharp.torch;

namespace StreamMtl.Pipeline.Model;

/// <summary>
/// One transformer block's reuse state: gates at the block input (LN1 -> qkv, whose buffer holds Q, K, V of
/// every token), at the attention output (-> proj) and at the post-attention residual (LN2 -> MLP), plus the
/// attention output of every token (rows of unchanged queries are reused).
/// </summary>
internal sealed class BlockReuseState : IDisposable
{
    private Tensor? _attention;

    public BlockReuseState(float threshold)
    {
        Qkv = new TokenGate(threshold);
        Proj = new TokenGate(threshold);
        Mlp = new TokenGate(threshold);
    }

    public TokenGate Qkv { get; }

    public TokenGate Proj { get; }

    public TokenGate Mlp { get; }

    /// <summary>Running softmax sums for <see cref="ReuseSettings.IncrementalAttention"/>.</summary>
    public AttentionSums Sums { get; } = new();

    /// <summary>Attention output of every token [N, D]; null until the first full pass.</summary>
    public Tensor? Attention => _attention;

    /// <summary>Bit mask of the units (<see cref="Policy.ComputeUnits"/>) that ran upstream of this block at its last run; null while cold.</summary>
    public long? Upstream { get; set; }

    public void SetAttention(Tensor attention) => StateBuffer.Keep(ref _attention, attention);

    public void Reset()
    {
        Qkv.Reset();
        Proj.Reset();
        Mlp.Reset();
        Sums.Reset();
        Upstream = null;
        StateBuffer.Release(ref _attention);
    }

    public void Dispose() => Reset();
}
