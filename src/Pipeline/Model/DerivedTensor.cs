using static TorchSharp.torch;

namespace StreamMtl.Pipeline.Model;

/// <summary>
/// Something derived from parameters for inference passes (a folded weight, a bfloat16 copy, a packed copy): made on first
/// use (no gradients, outside the caller's dispose scope), kept, and dropped by <see cref="Clear"/> when the parameters
/// may have changed (never while a pass runs). Inference workers may ask for it at once: one copy is kept, the others
/// disposed.
/// </summary>
internal abstract class Derived<T> : Derived where T : class, IDisposable
{
    private T? _value;

    protected T GetOrMake(Func<T> make)
    {
        if (Volatile.Read(ref _value) is { } value)
        {
            return value;
        }
        T made;
        using (NewDisposeScope())
        using (no_grad())
        {
            made = make();
        }
        if (Interlocked.CompareExchange(ref _value, made, null) is { } first)
        {
            made.Dispose();
            return first;
        }
        return made;
    }

    public override void Clear() => Interlocked.Exchange(ref _value, null)?.Dispose();
}

/// <summary>What every <see cref="Derived{T}"/> can do whatever it holds: drop it.</summary>
internal abstract class Derived : IDisposable
{
    /// <summary>Drops the derived value; the next use makes it again.</summary>
    public abstract void Clear();

    public void Dispose() => Clear();
}

/// <summary>A derived tensor (<see cref="Derived{T}"/>), kept contiguous and outside every dispose scope.</summary>
internal sealed class DerivedTensor : Derived<Tensor>
{
    public Tensor Get(Func<Tensor> make) => GetOrMake(() => make().contiguous().DetachFromDisposeScope());
}
