using static TorchSharp.torch;

namespace StreamMtl.Pipeline.Model;

/// <summary>
/// Per query row and head, the running softmax sums of one attention layer: U = sum_j exp(s_ij - m_i) v_j,
/// Z = sum_j exp(s_ij - m_i), with m_i fixed when the row was last computed in full. Changed keys/values
/// are swapped into every row's sums (Eventful's incremental A.V) instead of recomputing the row.
/// </summary>
internal sealed class AttentionSums : IDisposable
{
    private Tensor? _numerator;
    private Tensor? _denominator;
    private Tensor? _offset;

    public Tensor? Numerator => _numerator;

    public Tensor? Denominator => _denominator;

    public Tensor? Offset => _offset;

    public bool IsWarm(long tokens) => _numerator is not null && _numerator.shape[2] == tokens;

    public void Set(Tensor numerator, Tensor denominator, Tensor offset)
    {
        StateBuffer.Keep(ref _numerator, numerator);
        StateBuffer.Keep(ref _denominator, denominator);
        StateBuffer.Keep(ref _offset, offset);
    }

    public void Reset()
    {
        StateBuffer.Release(ref _numerator);
        StateBuffer.Release(ref _denominator);
        StateBuffer.Release(ref _offset);
    }

    public void Dispose() => Reset();
}
