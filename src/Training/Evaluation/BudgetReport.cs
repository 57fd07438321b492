using StreamMtl.Pipeline.Model.Policy;

namespace StreamMtl.Training.Evaluation;

/// <summary>One evaluated frame under a budget: its executed FLOP fraction, the units it ran and the policy's logits (null for a static plan).</summary>
public sealed record FrameDecision(double Fraction, bool[] Units, float[]? Scores);

/// <summary>The policy's probability of running one unit over the evaluated frames.</summary>
public sealed record UnitProbability(double Mean, double Min, double P10, double P90, double Max);

/// <summary>A frame of the easy/hard pair: where it is in the evaluation set, what it spent and which units it skipped.</summary>
public sealed record BudgetFrame(int Frame, int Sequence, int FrameInSequence, double ExecutedFraction, double PolicyNeed, string[] Skipped);

/// <summary>
/// What <c>streammtl eval --budget X</c> adds to the report: the executed FLOP fraction (executed / dense FLOPs of the
/// evaluated tasks, policy included) over the frames, how often each unit ran, and the easiest and hardest frame as the
/// policy judges them (the lowest and highest mean unit probability at the target).
/// </summary>
public sealed record BudgetReport
{
    /// <summary>Histogram bins: [0, 0.05), [0.05, 0.1), .., [0.95, 1.0].</summary>
    public const int Bins = 20;

    public double Target { get; init; }

    /// <summary>How the units were chosen: "frame" (every frame within the target), "average" (the policy's own decisions), "static", or "given" (a unit set per frame from the caller: the shuffled baseline).</summary>
    public string Rule { get; init; } = "frame";

    /// <summary>Under the average rule with <see cref="EvalOptions.Calibrate"/>: the offset added to every logit; null otherwise.</summary>
    public float? LogitOffset { get; init; }

    /// <summary>Whether every frame ran the same units (the non-adaptive baseline, <c>--static</c>).</summary>
    public bool Static { get; init; }

    public double MeanFraction { get; init; }
    public double P10 { get; init; }
    public double P50 { get; init; }
    public double P90 { get; init; }
    public double MinFraction { get; init; }
    public double MaxFraction { get; init; }

    /// <summary>|mean executed fraction - target| / target.</summary>
    public double RelativeError { get; init; }

    /// <summary>Frames whose executed fraction exceeds the target (zero unless the target is below the mandatory part).</summary>
    public int FramesOverTarget { get; init; }

    /// <summary>Frames per executed-fraction bin of width 1 / <see cref="Bins"/>.</summary>
    public int[] Histogram { get; init; } = [];

    /// <summary>Share of frames that ran each unit, by unit name ("trunk.3", "depth.6").</summary>
    public Dictionary<string, double> UnitRates { get; init; } = [];

    /// <summary>
    /// The policy's probability sigmoid(logit) of each unit over the frames, by unit name (null for a static plan): how
    /// decided the policy is (near 0 or 1) and how much it varies from frame to frame.
    /// </summary>
    public Dictionary<string, UnitProbability>? UnitProbabilities { get; init; }

    /// <summary>How many different unit sets the frames ran.</summary>
    public int DistinctPlans { get; init; }

    public BudgetFrame? Easiest { get; init; }
    public BudgetFrame? Hardest { get; init; }

    /// <summary>The units each frame ran, in evaluation order (not serialised: the shuffled baseline deals them out again).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public IReadOnlyList<bool[]> FrameUnits { get; init; } = [];

    /// <summary>Summarises <paramref name="decisions"/> (one per frame, in evaluation order; <paramref name="framesPerSequence"/> each).</summary>
    public static BudgetReport From(double target, bool isStatic, IReadOnlyList<ComputeUnit> units, IReadOnlyList<FrameDecision> decisions, int framesPerSequence)
    {
        var sorted = decisions.Select(d => d.Fraction).Order().ToArray();
        var histogram = new int[Bins];
        foreach (double f in sorted)
        {
            histogram[Math.Clamp((int)(f * Bins), 0, Bins - 1)]++;
        }
        double mean = sorted.Average();
        var needs = decisions.Select(d => d.Scores == null ? double.NaN : d.Scores.Average(s => 1 / (1 + Math.Exp(-s)))).ToArray();
        BudgetFrame? Frame(int i) => i < 0 ? null : new BudgetFrame(i, i / framesPerSequence, i % framesPerSequence, decisions[i].Fraction, needs[i],
            [.. units.Where((_, u) => !decisions[i].Units[u]).Select(u => u.Name)]);
        bool scored = needs.All(double.IsFinite);
        Dictionary<string, UnitProbability>? probabilities = null;
        if (scored)
        {
            probabilities = units.Select((u, i) =>
            {
                var p = decisions.Select(d => 1 / (1 + Math.Exp(-d.Scores![i]))).Order().ToArray();
                return (u.Name, new UnitProbability(p.Average(), p[0], Quantile(p, 0.1), Quantile(p, 0.9), p[^1]));
            }).ToDictionary(x => x.Name, x => x.Item2);
        }
        return new BudgetReport
        {
            Target = target,
            Static = isStatic,
            MeanFraction = mean,
            P10 = Quantile(sorted, 0.1),
            P50 = Quantile(sorted, 0.5),
            P90 = Quantile(sorted, 0.9),
            MinFraction = sorted[0],
            MaxFraction = sorted[^1],
            RelativeError = Math.Abs(mean - target) / target,
            FramesOverTarget = sorted.Count(f => f > target + 1e-12),
            Histogram = histogram,
            UnitRates = units.Select((u, i) => (u.Name, Rate: decisions.Average(d => d.Units[i] ? 1.0 : 0.0))).ToDictionary(x => x.Name, x => x.Rate),
            UnitProbabilities = probabilities,
            DistinctPlans = decisions.Select(d => string.Concat(d.Units.Select(r => r ? '1' : '0'))).Distinct().Count(),
            Easiest = Frame(scored ? Array.IndexOf(needs, needs.Min()) : -1),
            Hardest = Frame(scored ? Array.IndexOf(needs, needs.Max()) : -1),
            FrameUnits = [.. decisions.Select(d => d.Units)],
        };
    }

    /// <summary>Linear-interpolated quantile <paramref name="q"/> of ascending <paramref name="sorted"/>.</summary>
    private static double Quantile(double[] sorted, double q)
    {
        double position = q * (sorted.Length - 1);
        int low = (int)Math.Floor(position);
        int high = Math.Min(low + 1, sorted.Length - 1);
        return sorted[low] + (position - low) * (sorted[high] - sorted[low]);
    }
}
