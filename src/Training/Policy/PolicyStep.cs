namespace StreamMtl.Training.Policy;

/// <summary>
/// One co-training step's figures: the loss and its parts, and the mean |expected FLOP fraction - target| over the
/// samples that ran under a target (the policy's error); the output-stability penalty between twins (NaN when off).
/// </summary>
public sealed record PolicyStep(int Step, double Loss, double Task, double Distill, double Flop, double FlopError, double MeanTarget, double Stability = double.NaN);
