using StreamMtl.Pipeline.Model;
using StreamMtl.Training;
using StreamMtl.Training.Data;

namespace StreamMtl.Training.Evaluation;

/// <summary>What <see cref="Evaluator"/> runs: held-out synthetic sequences, sharing settings, baselines.</summary>
public sealed record EvalOptions
{
    public required string ModelPath { get; init; }

    /// <summary>An adapter file (train --adapt) folded into <see cref="ModelPath"/>'s weights at load; null = none.</summary>
    public string? AdapterPath { get; init; }

    /// <summary>Single-task baseline model files by task name, for Delta-m.</summary>
    public Dictionary<string, string> Baselines { get; init; } = [];

    public int Sequences { get; init; } = SyntheticDataset.EvaluationSequences;

    /// <summary>Seed of the first sequence: 1 for the evaluation set; another range below the training seeds is a validation set.</summary>
    public int FirstSeed { get; init; } = 1;
    public int FramesPerSequence { get; init; } = 12;

    /// <summary>Distance between evaluated frames of a sequence.</summary>
    public int FrameStride { get; init; } = 20;

    /// <summary>
    /// A data set on disk to evaluate on (its validation split, frames and labels resized to <see cref="Width"/> x <see cref="Height"/>);
    /// null = the synthetic sequences above (then <see cref="Sequences"/>, <see cref="FirstSeed"/>, <see cref="FramesPerSequence"/> and
    /// <see cref="FrameStride"/> apply).
    /// </summary>
    public Dataset? Data { get; init; }

    /// <summary>A real image with a disparity ground truth, scored by scale-and-shift-invariant depth metrics; null = none.</summary>
    public DepthReference? DepthReference { get; init; }

    public int Width { get; init; } = 320;
    public int Height { get; init; } = 240;
    public float ShareThreshold { get; init; }
    public int? SplitLayer { get; init; }

    /// <summary>Run the shared model's matrix products in bfloat16 (<see cref="Model.Autocast"/>), to measure what that costs in accuracy.</summary>
    public bool BFloat16 { get; init; }

    /// <summary>Target complexity in (0, 1] (fraction of the dense FLOPs) under which the policy picks each frame's units; null = the full model.</summary>
    public double? Budget { get; init; }

    /// <summary>With <see cref="Budget"/> (not static): every frame within it, or the policy's own decisions, on average (<see cref="Pipeline.Model.Policy.BudgetRule"/>).</summary>
    public Pipeline.Model.Policy.BudgetRule Rule { get; init; }

    /// <summary>
    /// Under the average rule: every logit is shifted by the offset that brings the mean executed fraction on validation
    /// frames nearest the target (<see cref="BudgetedPasses.CalibratedOffset"/>), so the target holds on average where the
    /// policy's own threshold misses it.
    /// </summary>
    public bool Calibrate { get; init; }

    /// <summary>With <see cref="Budget"/>: one unit set for every frame (<see cref="BudgetedPasses.StaticPlan"/>), the non-adaptive baseline.</summary>
    public bool Static { get; init; }

    /// <summary>
    /// With <see cref="Budget"/>: the units each evaluated frame runs, in evaluation order (one set per frame), instead of
    /// the policy's choice; the content-blind baseline at equal FLOPs deals the adaptive run's sets to the frames at random
    /// (<see cref="BudgetedPasses.Shuffled"/>).
    /// </summary>
    public IReadOnlyList<bool[]>? FramePlans { get; init; }

    /// <summary>
    /// The lower-resolution baseline: the full model (no budget) on every frame downscaled to the largest token grid whose
    /// dense FLOPs fit in this fraction (0, 1] of the frame's own (<see cref="InputGrid.Largest"/>), its outputs resized back
    /// to the frame for scoring; null = the frame's own size.
    /// </summary>
    public double? Resolution { get; init; }

    /// <summary>Called with each held-out frame and the shared model's predictions for it (frame number, frame, predictions).</summary>
    public Action<int, TruthFrame, Predictions>? Inspect { get; init; }
}
