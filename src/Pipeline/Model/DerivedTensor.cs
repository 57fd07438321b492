using static TorchSharp.torch;

namespace StreamMtl.Pipeline.Model;

/// <summary>
/// A tensor derived from parameters for inference passes (a folded weight, a bfloat16 copy): made on first use, kept
/// outside every dispose scope, and dropped by <see cref="Clear"/> when the parameters may have changed.
/// </summary>
internal sealed class DerivedTensor : IDisposable
{
    private Tensor? _value;

    public Tensor Get(Func<Tensor> make)
    {
        if (_value is null)
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            _value = make().contiguous().DetachFromDisposeScope();
        }
        return _value;
    }

    public void Clear()
    {
        _value?.Dispose();
        _value = null;
    }

    public void Dispose() => Clear();
}
