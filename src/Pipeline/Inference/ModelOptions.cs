namespace StreamMtl.Pipeline.Inference;

/// <summary>Which model to load and the input size frames are resized to.</summary>
public sealed record ModelOptions
{
    /// <summary>Model file; empty = the shipped model (see ModelLocator).</summary>
    public string? Path { get; init; }

    /// <summary>
    /// An adapter file trained on <see cref="Path"/> with <c>train --adapt</c>, folded into the weights at load
    /// (<see cref="Weights.AdapterFile"/>); empty = the model as it is.
    /// </summary>
    public string? Adapter { get; init; }

    public int InputWidth { get; init; } = 320;
    public int InputHeight { get; init; } = 240;

    /// <summary>TorchSharp intra-op threads; 0 = processor count.</summary>
    public int Threads { get; init; }

    /// <summary>
    /// Precision of the model's matrix products: float32, or bfloat16 (weights, norms and outputs stay float32; see
    /// <see cref="Pipeline.Model.Autocast"/>). bfloat16 pays only on CPUs that multiply it natively (AVX-512 BF16, AMX).
    /// </summary>
    public string Precision { get; init; } = Float32;

    /// <summary>
    /// Products of a few rows (a gated frame's recomputed tokens) run on weights packed once at first use, by the
    /// project's AVX2/FMA kernel (<see cref="Pipeline.Model.PackedLinear"/>), where the CPU has those instructions and a
    /// worker runs one intra-op thread; false = every product through libtorch.
    /// </summary>
    public bool PackedProducts { get; init; } = true;

    public const string Float32 = "float32";
    public const string BFloat16Name = "bfloat16";

    public bool BFloat16 => string.Equals(Precision, BFloat16Name, StringComparison.OrdinalIgnoreCase);

    /// <summary><see cref="Precision"/> as reported (lower case; validated to be one of the two).</summary>
    public string PrecisionName => BFloat16 ? BFloat16Name : Float32;

    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (InputWidth is < 16 or > 4096 || InputWidth % 16 != 0) errors.Add($"InputWidth must be a multiple of 16 in 16..4096, got {InputWidth}");
        if (InputHeight is < 16 or > 4096 || InputHeight % 16 != 0) errors.Add($"InputHeight must be a multiple of 16 in 16..4096, got {InputHeight}");
        if (Threads < 0) errors.Add($"Threads must be >= 0, got {Threads}");
        if (!BFloat16 && !string.Equals(Precision, Float32, StringComparison.OrdinalIgnoreCase))
        {
            errors.Add($"Precision must be {Float32} or {BFloat16Name}, got '{Precision}'");
        }
        return errors;
    }
}
