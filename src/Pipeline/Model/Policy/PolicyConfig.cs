namespace StreamMtl.Pipeline.Model.Policy;

/// <summary>
/// Shape of the compute policy (<see cref="UnitPolicy"/>) stored with a model; null in <see cref="ModelConfig.Policy"/>
/// for a model without one. Its units are those of <see cref="ComputeUnits"/> at the model's split layer.
/// </summary>
public sealed record PolicyConfig
{
    /// <summary>Hidden width of the policy's MLP.</summary>
    public int Hidden { get; init; } = 64;

    /// <summary>Lists every problem with the configuration; empty when valid.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (Hidden < 1) errors.Add($"policy hidden width must be >= 1, got {Hidden}");
        return errors;
    }
}
