namespace StreamMtl.Training.Teachers;

/// <summary>
/// One teacher's answer for one frame, at the frame's size (row-major, <see cref="Width"/> x <see cref="Height"/>), except
/// <see cref="Features"/>, which keeps the model's shape. Only the fields of the teacher's kind are set.
/// </summary>
public sealed record TeacherOutput(OutputKind Kind, int Width, int Height)
{
    /// <summary>Class id per pixel (class logits).</summary>
    public byte[]? Labels { get; init; }

    /// <summary>Softmax probabilities, [C,H,W] (class logits, when soft targets were asked for).</summary>
    public float[]? Probabilities { get; init; }

    /// <summary>Depth per pixel: metres for metric depth; the model's own values for relative and inverse depth.</summary>
    public float[]? Depth { get; init; }

    /// <summary>Unit normal per pixel, three floats (x right, y down, z forward); (0,0,0) where the model gave a zero vector.</summary>
    public float[]? Normals { get; init; }

    /// <summary>The output as the model gives it (features).</summary>
    public float[]? Features { get; init; }

    /// <summary>The shape of <see cref="Features"/>.</summary>
    public long[]? FeatureShape { get; init; }
}
