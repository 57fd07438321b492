using static TorchSharp.torch;

namespace StreamMtl.Pipeline.Model;

/// <summary>Reuse-state tensors: private copies that live outside any dispose scope, refilled in place while the shape holds.</summary>
internal static class StateBuffer
{
    /// <summary>Stores a copy of <paramref name="value"/> in <paramref name="slot"/> (inputs and outputs may alias tensors the caller keeps using).</summary>
    public static void Keep(ref Tensor? slot, Tensor value)
    {
        if (slot is not null && slot.shape.SequenceEqual(value.shape))
        {
            slot.copy_(value);
            return;
        }
        slot?.Dispose();
        slot = value.detach().clone().DetachFromDisposeScope();
    }

    /// <summary>Frees the tensor in <paramref name="slot"/> (if any) and empties the slot.</summary>
    public static void Release(ref Tensor? slot)
    {
        slot?.Dispose();
        slot = null;
    }
}
