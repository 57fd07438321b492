namespace StreamMtl.Training.Benchmarks;

/// <summary>Accuracy of one run against ground truth (synthetic sources only).</summary>
public sealed record TruthScores(double SegmentationMIoU, double DepthAbsRel, double NormalsMeanDeg);
