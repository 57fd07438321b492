using StreamMtl.Pipeline.Runners;
using StreamMtl.Pipeline.Model;

namespace StreamMtl.Pipeline.Reuse;

/// <summary>Creates the runner a stream's settings ask for.</summary>
public static class StreamRunners
{
    public static IStreamRunner Create(MultiTaskVit model, ReuseSettings settings)
    {
        var errors = settings.Validate();
        if (errors.Count > 0)
        {
            throw new ArgumentException("invalid reuse settings: " + string.Join("; ", errors), nameof(settings));
        }
        return settings.Dense
            ? new DenseStreamRunner(model, settings.ShareThreshold)
            : new ReuseStreamRunner(model, settings);
    }
}
