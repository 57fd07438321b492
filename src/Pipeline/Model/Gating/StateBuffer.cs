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

    /// <summary>
    /// Writes the selected rows' <paramref name="rows"/> (in selection order; every row's when the selection is all, which
    /// also fills a cold slot) into the per-token buffer in <paramref name="slot"/> and returns the buffer.
    /// </summary>
    public static Tensor Update(ref Tensor? slot, GateSelection selection, Tensor rows, string owner)
    {
        if (selection.Rows is not { } picked)
        {
            Keep(ref slot, rows);
        }
        else if (selection.Count > 0)
        {
            (slot ?? throw Cold(owner)).index_copy_(0, picked, rows);
        }
        return slot ?? throw Cold(owner);
    }

    private static InvalidOperationException Cold(string owner) => new($"{owner} is cold; run every row first");

    /// <summary>Frees the tensor in <paramref name="slot"/> (if any) and empties the slot.</summary>
    public static void Release(ref Tensor? slot)
    {
        slot?.Dispose();
        slot = null;
    }
}
