
namespace StreamMtl.Pipeline.Model;

/// <summary>
/// Counts floating-point operations of one forward pass, per task: executed (rows that really ran) next
/// to dense-equivalent (what the same pass would cost with every token computed and no reuse).
/// A (m x k)(k x n) product counts 2*m*n*k; softmax, LayerNorm and GELU are not counted (they are
/// linear in tokens and under 2% of a block at these widths).
/// </summary>
public sealed class FlopCounter
{
    private readonly long[] _executed = new long[VisionTasks.All.Count];
    private readonly long[] _dense = new long[VisionTasks.All.Count];

    /// <summary>A linear layer applied to <paramref name="rows"/> of <paramref name="denseRows"/> tokens.</summary>
    public void Linear(VisionTask task, long rows, long denseRows, long inFeatures, long outFeatures)
    {
        _executed[(int)task] += 2 * rows * inFeatures * outFeatures;
        _dense[(int)task] += 2 * denseRows * inFeatures * outFeatures;
    }

    /// <summary>Q.K^T and A.V for <paramref name="queries"/> of <paramref name="denseQueries"/> queries against all keys.</summary>
    public void Attention(VisionTask task, long batch, long heads, long queries, long denseQueries, long keys, long headDim)
    {
        _executed[(int)task] += 2 * 2 * batch * heads * queries * keys * headDim;
        _dense[(int)task] += 2 * 2 * batch * heads * denseQueries * keys * headDim;
    }

    /// <summary>Work spent deciding what to skip (difference and two norms per token); zero in a dense pass.</summary>
    public void Overhead(VisionTask task, long flops)
    {
        _executed[(int)task] += flops;
    }

    /// <summary>Work a dense pass would have spent on a unit this pass skipped (<see cref="Policy.ComputeUnits"/>): dense only.</summary>
    public void Skipped(VisionTask task, long flops)
    {
        _dense[(int)task] += flops;
    }

    public long Executed(VisionTask task) => _executed[(int)task];

    public long Dense(VisionTask task) => _dense[(int)task];

    public long ExecutedTotal => _executed.Sum();

    public long DenseTotal => _dense.Sum();
}
