namespace StreamMtl.Pipeline.Training;

/// <summary>A progress report from a training run.</summary>
public sealed record TrainProgress(string Stage, int Step, int Steps, double Loss, double SamplesPerSecond, TimeSpan Elapsed)
{
    public TimeSpan Remaining => Step == 0 ? TimeSpan.Zero : Elapsed / Step * (Steps - Step);
}
