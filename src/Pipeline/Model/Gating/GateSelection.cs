using static TorchSharp.torch;

namespace StreamMtl.Pipeline.Model;

/// <summary>
/// The rows a gate recomputes this frame: <see cref="Rows"/> null means every row (keyframe, cold gate
/// or everything over threshold), which runs the stage densely without gather/scatter.
/// <see cref="OverThreshold"/> is the count before the budget cap (what scene-cut detection looks at).
/// </summary>
internal sealed record GateSelection(Tensor? Rows, long Count, long OverThreshold)
{
    public bool All => Rows is null;

    /// <summary>The rows include rows added whatever their change (<see cref="TokenGate.Select"/>'s <c>alsoRows</c>).</summary>
    public bool WithAlso { get; init; }

    public static GateSelection Everything(long tokens) => new(null, tokens, tokens);
}
