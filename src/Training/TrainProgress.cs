namespace StreamMtl.Training;

/// <summary>
/// A progress report from a training run. <paramref name="StartStep"/> is where this process started (after a
/// resume), so the remaining time is estimated from this process's own pace. <paramref name="Temporal"/> is the
/// smoothed pair penalty (NaN when off), named by <paramref name="PenaltyName"/>: the temporal-consistency or the
/// output-stability penalty.
/// </summary>
public sealed record TrainProgress(string Stage, int Step, int Steps, double Loss, double SamplesPerSecond, TimeSpan Elapsed,
    int StartStep = 0, double Temporal = double.NaN, string PenaltyName = "temporal")
{
    public TimeSpan Remaining => Step <= StartStep ? TimeSpan.Zero : Elapsed / (Step - StartStep) * (Steps - Step);
}
