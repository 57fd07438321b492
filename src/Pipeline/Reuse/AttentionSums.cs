using static TorchSharp.torch;

namespace StreamMtl.Pipeline.Reuse;

/// <summary>
/// Per query row and head, the running softmax sums of one attention layer: U = sum_j exp(s_ij - m_i) v_j,
/// Z = sum_j exp(s_ij - m_i), with m_i fixed when the row was last computed in full. Changed keys/values
/// are swapped into every row's sums (Eventful's incremental A.V) instead of recomputing the row.
/// </summary>
internal sealed class AttentionSums : IDisposable
{
    public Tensor? Numerator { get; private set; }

    public Tensor? Denominator { get; private set; }

    public Tensor? Offset { get; private set; }

    public bool IsWarm(long tokens) => Numerator is not null && Numerator.shape[2] == tokens;

    public void Set(Tensor numerator, Tensor denominator, Tensor offset)
    {
        Reset();
        Numerator = numerator.detach().clone().DetachFromDisposeScope();
        Denominator = denominator.detach().clone().DetachFromDisposeScope();
        Offset = offset.detach().clone().DetachFromDisposeScope();
    }

    public void Reset()
    {
        Numerator?.Dispose();
        Denominator?.Dispose();
        Offset?.Dispose();
        Numerator = null;
        Denominator = null;
        Offset = null;
    }

    public void Dispose() => Reset();
}
