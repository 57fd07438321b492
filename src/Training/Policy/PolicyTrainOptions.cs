namespace StreamMtl.Training.Policy;

/// <summary>Settings of the compute-policy co-training stage (<see cref="PolicyTrainer"/>).</summary>
public sealed record PolicyTrainOptions
{
    /// <summary>The trained model to start from (and the frozen teacher the distillation reads).</summary>
    public required string InitPath { get; init; }

    /// <summary>Where the model with its policy is written (safetensors).</summary>
    public required string OutputPath { get; init; }

    public int Steps { get; init; } = 600;
    public int Batch { get; init; } = 8;

    /// <summary>Crop size in tokens, as the other stages train.</summary>
    public int CropRows { get; init; } = 8;
    public int CropCols { get; init; } = 10;

    /// <summary>Every Nth step trains on a quarter batch of full frames, the token count the policy decides on when serving; 0 = never.</summary>
    public int FullFrameEvery { get; init; } = 4;

    /// <summary>Targets are drawn uniformly from [<see cref="MinTarget"/>, <see cref="MaxTarget"/>] per sample.</summary>
    public double MinTarget { get; init; } = 0.4;
    public double MaxTarget { get; init; } = 1.0;

    /// <summary>
    /// Share of samples that run the full model (every gate 1, no FLOP term): they keep the full model, which a budget of 1
    /// serves, where it was while the others teach it to tolerate skipped blocks.
    /// </summary>
    public double FullShare { get; init; } = 0.25;

    /// <summary>
    /// What the FLOP term holds at the target: <see cref="FlopLoss.Sample"/> each sample's expected fraction (targets drawn
    /// per sample; every frame spends about the target), or <see cref="FlopLoss.Batch"/> the mean of the batch's hard
    /// decisions (one target per step, AdaMTL's loss: frames may spend more or less, the mean holds).
    /// </summary>
    public FlopLoss FlopLoss { get; init; } = FlopLoss.Sample;

    /// <summary>
    /// Scale of the gates' logistic noise at the last step; it falls linearly from 1 at the first. Below 1 the decisions
    /// harden toward the deterministic ones (logit above 0) that <c>eval --budget-rule average</c> serves.
    /// </summary>
    public double NoiseEnd { get; init; } = 1;

    /// <summary>
    /// When set, the policy is frozen and only the model's weights train, under the unit sets the per-frame rule
    /// (<see cref="Pipeline.Model.Policy.Budget.Choose"/>) picks from the policy's logits at one of these targets per sample
    /// (the others, <see cref="FullShare"/>, run the full model): the sets served, hard, with no FLOP term. Null = co-train the
    /// policy (Gumbel-sigmoid gates and the FLOP term).
    /// </summary>
    public IReadOnlyList<double>? PlanTargets { get; init; }

    /// <summary>Weight lambda of (expected executed FLOP fraction - target)^2.</summary>
    public double FlopWeight { get; init; } = 20;

    /// <summary>Weight of the distillation from the frozen full model's outputs (all tasks).</summary>
    public double DistillWeight { get; init; } = 1;

    /// <summary>Weight of the task losses on the synthetic ground truth.</summary>
    public double TaskWeight { get; init; } = 1;

    /// <summary>
    /// Weight of the output-stability penalty (<see cref="Losses.Stability"/>, all three tasks); 0 = off. When on, each
    /// batch is Batch/2 twins: one rendered frame twice, each copy degraded on its own by the compression augmentation
    /// (so it needs <see cref="JpegMinQuality"/>), both supervised; a pair shares its target and runs the same units,
    /// so the penalty sees the artefacts only. The shipped model's recipe uses it against flicker on real footage.
    /// </summary>
    public double StabilityWeight { get; init; }

    /// <summary>Compression augmentation: lowest JPEG quality re-encoding crops (<see cref="CameraDegradation"/>); 0 = off.</summary>
    public int JpegMinQuality { get; init; }

    /// <summary>Whether batches are twins (<see cref="StabilityWeight"/>).</summary>
    public bool Twins => StabilityWeight > 0;

    /// <summary>Temperature of the Gumbel-sigmoid gates.</summary>
    public double Temperature { get; init; } = 1;

    /// <summary>Learning rate of the model's own weights (small: it fine-tunes a trained model).</summary>
    public double ModelLearningRate { get; init; } = 1e-4;

    /// <summary>Learning rate of the policy network.</summary>
    public double PolicyLearningRate { get; init; } = 2e-3;

    /// <summary>Hidden width of a new policy (a model that already has one keeps its own).</summary>
    public int PolicyHidden { get; init; } = 64;

    public int PoolSize { get; init; } = 256;
    public int ReplacePerStep { get; init; } = 2;
    public int Seed { get; init; } = 1;
    public int Width { get; init; } = 320;
    public int Height { get; init; } = 240;

    /// <summary>Lists every problem with the settings; empty when valid.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (Steps < 1) errors.Add($"steps must be >= 1, got {Steps}");
        if (Batch < 1) errors.Add($"batch must be >= 1, got {Batch}");
        if (Pipeline.Model.Policy.Budget.Problem(MinTarget) is string min) errors.Add("minimum target: " + min);
        if (Pipeline.Model.Policy.Budget.Problem(MaxTarget) is string max) errors.Add("maximum target: " + max);
        if (MinTarget > MaxTarget) errors.Add($"minimum target {MinTarget} is above the maximum {MaxTarget}");
        if (FullShare is < 0 or >= 1) errors.Add($"full share must be in [0, 1), got {FullShare}");
        if (NoiseEnd is < 0 or > 1 || double.IsNaN(NoiseEnd)) errors.Add($"noise at the end must be in [0, 1], got {NoiseEnd}");
        if (!Enum.IsDefined(FlopLoss)) errors.Add($"unknown FLOP loss {FlopLoss}");
        if (Temperature <= 0) errors.Add($"temperature must be > 0, got {Temperature}");
        if (StabilityWeight < 0 || double.IsNaN(StabilityWeight)) errors.Add($"stability weight must be >= 0, got {StabilityWeight}");
        if (JpegMinQuality is < 0 or > 100) errors.Add($"JPEG quality must be in 0..100 (0 = off), got {JpegMinQuality}");
        if (Twins && JpegMinQuality <= 0) errors.Add("the stability penalty compares two independently degraded copies of a frame: it needs the compression augmentation (JPEG quality > 0)");
        if (Twins && !TrainingBatch.HoldsPairs(Batch)) errors.Add($"the stability penalty trains on pairs of copies of a frame: the batch must be even and at least 2, got {Batch}");
        if (PlanTargets is { } plans)
        {
            if (plans.Count == 0) errors.Add("plan targets: give at least one");
            errors.AddRange(plans.Select(Pipeline.Model.Policy.Budget.Problem).OfType<string>().Select(p => "plan target: " + p));
        }
        return errors;
    }
}

/// <summary>What the policy co-training's FLOP term holds at the target (<see cref="PolicyTrainOptions.FlopLoss"/>).</summary>
public enum FlopLoss
{
    /// <summary>Each sample's expected executed fraction, at its own target.</summary>
    Sample,

    /// <summary>The batch's mean executed fraction of the hard decisions, at one target per step (AdaMTL).</summary>
    Batch,
}
