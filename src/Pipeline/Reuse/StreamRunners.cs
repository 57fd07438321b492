using StreamMtl.Pipeline.Runners;
using StreamMtl.Pipeline.Model;

namespace StreamMtl.Pipeline.Reuse;

/// <summary>Creates the runner a stream's settings ask for.</summary>
public static class StreamRunners
{
    /// <summary>Settings arrive validated (the door and the inference engine's OpenLane check them; the reuse runner's constructor guards its own).</summary>
    /// <param name="ordinal">The stream's number in its engine: staggers reuse keyframes across streams (<see cref="ReuseState.KeyframePhase"/>).</param>
    public static IStreamRunner Create(MultiTaskVit model, ReuseSettings settings, int ordinal = 0) => settings.Dense
        ? new DenseStreamRunner(model, settings.ShareThreshold)
        : new ReuseStreamRunner(model, settings, ReuseState.KeyframePhase(ordinal, settings.KeyframeInterval));
}
