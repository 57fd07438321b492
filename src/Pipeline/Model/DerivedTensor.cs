using static TorchSharp.torch;

namespace StreamMtl.Pipeline.Model;

/// <summary>
/// Something derived from parameters for inference passes (a folded weight, a bfloat16 copy, a packed copy): made on first
/// use (no gradients, outside the caller's dispose scope), kept, and dropped by <see cref="Clear"/> when the parameters
/// may have changed.
/// </summary>
internal abstract class Derived<T> : IDisposable where T : class, IDisposable
{
    private T? _value;

    protected T GetOrMake(Func<T> make)
    {
        if (_value is null)
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            _value = make();
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

/// <summary>A derived tensor (<see cref="Derived{T}"/>), kept contiguous and outside every dispose scope.</summary>
internal sealed class DerivedTensor : Derived<Tensor>
{
    public Tensor Get(Func<Tensor> make) => GetOrMake(() => make().contiguous().DetachFromDisposeScope());
}
