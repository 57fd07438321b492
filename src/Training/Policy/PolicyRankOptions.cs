using StreamMtl.Pipeline.Model.Policy;

namespace StreamMtl.Training.Policy;

/// <summary>What <see cref="PolicyRanker"/> runs: the model, the training frames, the targets and the optimiser.</summary>
public sealed record PolicyRankOptions
{
    public required string InitPath { get; init; }
    public required string OutputPath { get; init; }

    /// <summary>Training sequences drawn (synthetic seeds from <see cref="SyntheticDataset.FirstTrainingSeed"/>), <see cref="FramesPerSequence"/> frames each.</summary>
    public int Sequences { get; init; } = 32;
    public int FramesPerSequence { get; init; } = 12;

    /// <summary>Distance between the frames taken from a sequence.</summary>
    public int FrameStride { get; init; } = 20;

    /// <summary>Targets at which the frames' decisions are ranked (the average rule's).</summary>
    public IReadOnlyList<double> Targets { get; init; } = DefaultTargets;

    /// <summary>The targets ranked unless told otherwise.</summary>
    public static IReadOnlyList<double> DefaultTargets { get; } = [0.4, 0.5, 0.6, 0.7, 0.8];

    /// <summary>
    /// The rule whose decisions are ranked: <see cref="BudgetRule.Average"/> (a unit run on some frames only) or
    /// <see cref="BudgetRule.PerFrame"/> (per frame, the fixed set's last unit or the first one left out in its place).
    /// </summary>
    public BudgetRule Rule { get; init; } = BudgetRule.Average;

    public int Steps { get; init; } = 300;
    public double LearningRate { get; init; } = 1e-3;
    public double WeightDecay { get; init; } = 0.01;

    /// <summary>Weight of the squared change of the other units' logits (those the frames all run or all skip).</summary>
    public double KeepWeight { get; init; } = 1;

    /// <summary>A unit is ranked at a target when the policy runs it on at least this share of the frames and skips it on as many.</summary>
    public double MinShare { get; init; } = 0.02;

    public int Seed { get; init; } = 1;
    public int Width { get; init; } = 320;
    public int Height { get; init; } = 240;

    /// <summary>What is wrong with these settings; empty when they can run.</summary>
    public List<string> Validate()
    {
        var errors = new List<string>();
        if (Sequences < 1 || FramesPerSequence < 1 || FrameStride < 1)
        {
            errors.Add($"sequences, frames per sequence and frame stride must be at least 1, got {Sequences}, {FramesPerSequence}, {FrameStride}");
        }
        if (Targets.Count == 0)
        {
            errors.Add("at least one target is needed");
        }
        errors.AddRange(Targets.Select(Budget.Problem).OfType<string>().Select(p => "targets: " + p));
        if (Steps < 1)
        {
            errors.Add($"steps must be at least 1, got {Steps}");
        }
        if (!(LearningRate > 0) || !(WeightDecay >= 0) || !(KeepWeight >= 0))
        {
            errors.Add($"learning rate must be positive and weight decay and keep weight not negative, got {LearningRate}, {WeightDecay}, {KeepWeight}");
        }
        if (!(MinShare > 0 && MinShare < 0.5))
        {
            errors.Add($"the least share of frames must be in (0, 0.5), got {MinShare}");
        }
        if (Width < 16 || Height < 16)
        {
            errors.Add($"frames must be at least 16x16, got {Width}x{Height}");
        }
        return errors;
    }
}
