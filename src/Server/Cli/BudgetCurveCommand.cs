using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using StreamMtl.Pipeline.Model.Policy;
using StreamMtl.Training.Benchmarks;
using StreamMtl.Training.Evaluation;
using static StreamMtl.Server.Cli.CliOptions;

namespace StreamMtl.Server.Cli;

/// <summary>
/// streammtl budget-curve: <c>eval --budget X</c> and <c>eval --budget X --static</c> at each target on the same held-out
/// frames; prints the table, writes the points as JSON and plots the accuracy-vs-compute curve.
/// </summary>
public static class BudgetCurveCommand
{
    private static readonly Option<string?> Model = ModelPath();
    private static readonly Option<double[]?> Targets = Numbers("--budgets", "targets in (0, 1] [default: 1,0.8,0.6,0.4]");
    private static readonly Option<string?> Plot = OptionalText("--plot", "PNG", "write the curve (adaptive vs static, three metrics) as a PNG");
    private static readonly Option<string?> Json = OptionalText("--json", "OUT", "write the points as JSON");
    private static readonly Option<string?> Reference = OptionalText("--reference", "F", "also a reference model's static curve, e.g. the " +
        "shipped model (without a policy: its deepest blocks dropped first)");
    private static readonly Option<int> Sequences = Int("--sequences", "held-out sequences (seeds 1..N)", 8, 1, 1000);
    private static readonly Option<int> Frames = Int("--frames", "frames per sequence", 12, 1, 10000);
    private static readonly Option<string> Rule = BudgetRuleOption("; the static curves then take the adaptive one's mean executed fraction as their budget");
    private static readonly Option<bool> Calibrate = CalibrateOption();
    private static readonly Option<int> Shuffles = Int("--shuffles", "draws of the shuffled baseline per target (the adaptive run's unit sets dealt " +
        "to the frames at random: equal FLOPs, no per-frame choice), where the adaptive frames ran more than one set, and then the oracle " +
        "(the truth picks the frames; where they ran two sets); 0 = neither", BudgetCurve.DefaultShuffles, 0, 1000);

    /// <summary>The budget-curve command with its options; its body is <see cref="Run"/>.</summary>
    internal static Command Create() => CliOptions.Command("budget-curve", "accuracy vs executed FLOPs of the compute policy and of the static " +
        "baseline at several budgets (docs/adaptive.md)", Run, Model, Targets, Plot, Json, Reference, Sequences, Frames, Rule, Calibrate, Shuffles);

    public static int Run(ParseResult args)
    {
        string model = ModelArgument.Resolve(args.GetValue(Model));
        var targets = args.GetValue(Targets) is { Length: > 0 } given ? given : [.. BudgetCurve.DefaultTargets];
        foreach (double target in targets)
        {
            if (Budget.Problem(target) is string problem)
            {
                throw new CliException("--budgets: " + problem);
            }
        }
        var options = new EvalOptions
        {
            ModelPath = model,
            Sequences = args.GetValue(Sequences),
            FramesPerSequence = args.GetValue(Frames),
            Rule = BudgetRuleOf(args.GetValue(Rule)!),
            Calibrate = args.GetValue(Calibrate),
        };
        if (options.Calibrate && options.Rule != BudgetRule.Average)
        {
            throw new CliException("--calibrate shifts the threshold of --budget-rule average: add --budget-rule average");
        }
        EvalCommand.EnsureBelowTrainingSeeds(options);
        string? reference = args.GetValue(Reference) is { } path ? ModelArgument.Resolve(path) : null;
        var points = BudgetCurve.Run(options, targets, reference, Console.WriteLine, args.GetValue(Shuffles));
        if (args.GetValue(Json) is { } json)
        {
            File.WriteAllText(json, JsonSerializer.Serialize(points, new JsonSerializerOptions
            {
                WriteIndented = true,
                PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
                Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
            }));
            Console.WriteLine($"points written to {json}");
        }
        if (args.GetValue(Plot) is { } plot)
        {
            BudgetCurvePlot.Save(points, plot);
            Console.WriteLine($"plot written to {plot}");
        }
        return 0;
    }
}
