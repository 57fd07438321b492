using static TorchSharp.torch;

namespace StreamMtl.Pipeline.Model;

/// <summary>
/// Everything temporal reuse remembers about one stream: the shared trunk's gates (blocks 1..l, gated
/// against the base task's previous frame), each task's own blocks l+1..L and head (gated against that
/// task's previous frame), and the frame bookkeeping keyframes are decided from. Owned by one stream's
/// runner; <see cref="Reset"/> forgets everything (the next frame is a keyframe).
/// </summary>
public sealed class ReuseState : IDisposable
{
    private readonly Dictionary<VisionTask, BranchReuseState> _branches = [];

    private Tensor? _trunkOutput;

    public ReuseState(ModelConfig config, float threshold)
    {
        Canvas = new PredictionCanvas(config);
        Embed = new TokenGate(threshold);
        Trunk = new BranchReuseState(0, config.SplitLayer, hasHead: false, threshold);
        foreach (var task in config.AllTasks)
        {
            _branches[task] = new BranchReuseState(config.SplitLayer, config.Blocks - config.SplitLayer, hasHead: true, threshold);
        }
    }

    /// <summary>Index of the last frame run; null after construction or reset.</summary>
    public long? LastFrame { get; private set; }

    /// <summary>Gated frames run since the last keyframe (plus the stream's phase): decides interval keyframes and picks
    /// the rolling refresh's stripe.</summary>
    public long GatedFrames { get; private set; }

    /// <summary>Token grid (rows, cols) the buffers are for.</summary>
    public (int Rows, int Cols)? Grid { get; private set; }

    /// <summary>The gate in front of the patch embedding (on pixels; the first gate, so it decides scene cuts).</summary>
    internal TokenGate Embed { get; }

    internal BranchReuseState Trunk { get; }

    internal PredictionCanvas Canvas { get; }

    internal BranchReuseState Branch(VisionTask task) => _branches[task];

    /// <summary>Whether the buffers are the propagated pass's (<see cref="GatedPass.Propagates"/>) or the gate-per-layer
    /// pass's; null while cold. The two keep different buffers, so a frame of the other kind starts both over.</summary>
    internal bool? Propagated { get; set; }

    /// <summary>
    /// The propagated pass's trunk output for every token: writes the rows run this frame (every row's when the selection is
    /// all) and returns the buffer [N, D], what a branch that missed the previous frame (cold, or held) starts from.
    /// </summary>
    internal Tensor TrunkOutput(GateSelection selection, Tensor rows) => StateBuffer.Update(ref _trunkOutput, selection, rows, "trunk");

    /// <summary>Forgets every gate and buffer (the next pass recomputes every row of every task) but not the frame
    /// bookkeeping nor the last outputs: what a switch between the propagated and the gate-per-layer pass needs.</summary>
    internal void Cool()
    {
        Embed.Reset();
        Trunk.Reset();
        foreach (var branch in _branches.Values)
        {
            branch.Reset();
        }
        StateBuffer.Release(ref _trunkOutput);
        Propagated = null;
    }

    /// <summary>Why the frame must be a keyframe before looking at its content; null when it may be gated.</summary>
    /// <param name="rolling">The interval is refreshed a stripe at a time (<see cref="ReuseSettings.RollingRefresh"/>): no interval keyframes.</param>
    public string? KeyframeReason(long frameIndex, (int Rows, int Cols) grid, int keyframeInterval, int maxIndexStep = 1, bool rolling = false)
    {
        if (LastFrame is not { } last) return "start";
        if (Grid != grid) return "size";
        if (frameIndex <= last || frameIndex - last > maxIndexStep) return "gap";
        // The interval counts frames run, not frame indices: drift accumulates per gated pass, and a stream whose frames
        // are dropped under load would otherwise keyframe on every frame it gets (the collapse of issue 22).
        if (!rolling && keyframeInterval > 0 && GatedFrames + 1 >= keyframeInterval) return "interval";
        return null;
    }

    /// <param name="phase">Frames by which to bring the next interval keyframe forward (0..interval-1): given after a
    /// stream's first keyframe, it staggers the keyframes of streams that started together (<see cref="KeyframePhase"/>).</param>
    internal void Advance(long frameIndex, (int Rows, int Cols) grid, bool keyframe, int phase = 0)
    {
        GatedFrames = keyframe ? phase : GatedFrames + 1;
        LastFrame = frameIndex;
        Grid = grid;
    }

    /// <summary>
    /// The keyframe phase of the <paramref name="ordinal"/>-th stream for <paramref name="interval"/>: ordinal x step mod
    /// interval, with the step the integer nearest 0.618 x interval that is coprime with it, so the first interval streams
    /// all get different phases, spread over the interval (10: 0, 7, 4, 1, 8, 5, 2, 9, 6, 3).
    /// </summary>
    public static int KeyframePhase(int ordinal, int interval)
    {
        if (interval <= 1)
        {
            return 0;
        }
        int step = (int)Math.Round(interval * 0.6180339887);
        while (System.Numerics.BigInteger.GreatestCommonDivisor(step, interval) != 1)
        {
            step++;
        }
        return (int)((long)Math.Abs(ordinal) * step % interval);
    }

    public void Reset()
    {
        Cool();
        Canvas.Reset();
        LastFrame = null;
        GatedFrames = 0;
        Grid = null;
    }

    public void Dispose() => Reset();
}
