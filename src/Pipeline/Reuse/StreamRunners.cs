using StreamMtl.Pipeline.Runners;
using StreamMtl.Pipeline.Model;

namespace StreamMtl.Pipeline.Reuse;

/// <summary>Creates the runner a stream's settings ask for.</summary>
public static class StreamRunners
{
    /// <summary>Settings arrive validated (the door and the inference engine's OpenLane check them; the reuse runner's constructor guards its own).</summary>
    public static IStreamRunner Create(MultiTaskVit model, ReuseSettings settings) => settings.Dense
        ? new DenseStreamRunner(model, settings.ShareThreshold)
        : new ReuseStreamRunner(model, settings);
}
