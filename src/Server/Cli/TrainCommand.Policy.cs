using System.CommandLine;
using StreamMtl.Training.Policy;
using static StreamMtl.Server.Cli.CliOptions;

namespace StreamMtl.Server.Cli;

public static partial class TrainCommand
{
    /// <summary>The options only <c>--stage policy</c> reads.</summary>
    internal static class PolicyOptions
    {
        public static readonly Option<double> ModelLearningRate = Double("--model-lr", "policy stage: learning rate of the model's own weights " +
            "(fine-tuned so they tolerate skipped blocks; --lr is the policy's)", 1e-4, 0, 1);
        public static readonly Option<double> FlopWeight = Double("--flop-weight", "policy stage: weight of (expected executed FLOP fraction - target)^2",
            20, 0, 1e6, helpName: "W");
        public static readonly Option<double> FullShare = Double("--full-share", "policy stage: share of samples run as the full model (every block, " +
            "no FLOP term) to keep the budget-1 model where it was", 0.25, 0, 0.99);
        public static readonly Option<string> FlopLoss = FlopLossOption();
        public static readonly Option<double> NoiseEnd = Double("--noise-end", "policy stage: scale of the gates' logistic noise at the last step, " +
            "falling linearly from 1 (below 1 the decisions harden toward those `eval --budget-rule average` serves)", 1, 0, 1, helpName: "S");
        public static readonly Option<double[]?> PlanTargets = Numbers("--plan-targets", "policy stage: freeze the policy and fine-tune the " +
            "model's weights under the unit sets the per-frame rule picks at these targets in (0, 1], one drawn per sample (--full-share of the " +
            "samples run the full model); no FLOP term. The init model needs a policy");

        public static readonly Option<int> RankSequences = Int("--rank-sequences", "policy-rank stage: training sequences drawn, 12 frames each " +
            "at stride 20", 32, 1, 10000);
        public static readonly Option<string> RankRule = RankRuleOption();
        public static readonly Option<double[]?> RankTargets = Numbers("--rank-targets", "policy-rank stage: targets in (0, 1] at which the frames " +
            "are ranked [default: 0.4,0.5,0.6,0.7,0.8]");

        private static Option<string> RankRuleOption()
        {
            var option = Text("--rank-rule", "RULE", "policy-rank stage: average = rank the frames for each unit the policy runs on some " +
                "frames only (eval --budget-rule average); frame = per frame, the fixed set's last unit or the first one left out in its place " +
                "(the per-frame rule the service uses)", "average");
            option.AcceptOnlyFromAmong("average", "frame");
            return option;
        }

        private static Option<string> FlopLossOption()
        {
            var option = Text("--flop-loss", "KIND", "policy stage: sample = each sample's expected FLOP fraction at its own target (every frame " +
                "spends about the target); batch = the batch's mean of the hard decisions at one target per step (AdaMTL: frames may differ)", "sample");
            option.AcceptOnlyFromAmong("sample", "batch");
            return option;
        }
    }

    /// <summary>
    /// <c>streammtl train --stage policy --init MODEL --out FILE</c>: co-trains a compute policy with the model (targets
    /// drawn from 0.4..1 per sample, distillation from the frozen MODEL).
    /// </summary>
    private static int RunPolicy(ParseResult args, string output, int steps, (int Rows, int Cols) crop, CancellationToken stop)
    {
        string init = args.GetValue(Options.Init) is { } path ? ModelArgument.Resolve(path) : throw new CliException("--stage policy needs --init MODEL (a trained model)");
        var options = new PolicyTrainOptions
        {
            InitPath = init,
            OutputPath = output,
            Steps = steps,
            Batch = args.GetValue(Options.Batch),
            CropRows = crop.Rows,
            CropCols = crop.Cols,
            Seed = args.GetValue(Options.Seed),
            PolicyLearningRate = args.GetValue(Options.LearningRate),
            ModelLearningRate = args.GetValue(PolicyOptions.ModelLearningRate),
            FlopWeight = args.GetValue(PolicyOptions.FlopWeight),
            FullShare = args.GetValue(PolicyOptions.FullShare),
            FlopLoss = args.GetValue(PolicyOptions.FlopLoss) == "batch" ? FlopLoss.Batch : FlopLoss.Sample,
            NoiseEnd = args.GetValue(PolicyOptions.NoiseEnd),
            PlanTargets = args.GetValue(PolicyOptions.PlanTargets) is { Length: > 0 } plans ? plans : null,
            StabilityWeight = args.GetValue(Options.Stability),
            JpegMinQuality = args.GetValue(Options.Jpeg),
        };
        var errors = options.Validate();
        if (errors.Count > 0)
        {
            throw new CliException(string.Join("; ", errors));
        }
        Console.WriteLine($"training the compute policy: {steps} steps, batch {options.Batch}, crop {crop.Rows}x{crop.Cols} tokens, from {init} -> {output}");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var trainer = new PolicyTrainer(options, s =>
        {
            if (s.Step % 10 == 0 || s.Step == steps - 1)
            {
                Console.WriteLine($"[policy] {s.Step + 1}/{steps} loss {s.Loss:F4} (task {s.Task:F4}, distill {s.Distill:F4}, flop {s.Flop:F5}) " +
                    $"|expected - target| {s.FlopError:F3} at mean target {s.MeanTarget:F2}" +
                    (double.IsNaN(s.Stability) ? "" : $", stability {s.Stability:F5}") + $"; {(s.Step + 1) / clock.Elapsed.TotalSeconds:F2} steps/s");
            }
        });
        var run = trainer.Run(stop);
        if (run.Count < steps)
        {
            Console.WriteLine($"interrupted after step {run.Count} of {steps}; nothing written (the policy stage keeps no checkpoint)");
            return Interrupted;
        }
        Console.WriteLine($"done: {run.Count} steps in {clock.Elapsed.TotalSeconds:F0} s -> {output}");
        return 0;
    }

    /// <summary>
    /// <c>streammtl train --stage policy-rank --init MODEL --out FILE</c>: teaches MODEL's policy which frames gain from the
    /// units it runs on some frames only (<see cref="PolicyRanker"/>); the model's weights stay.
    /// </summary>
    private static int RunPolicyRank(ParseResult args, string output, int steps, CancellationToken stop)
    {
        string init = args.GetValue(Options.Init) is { } path ? ModelArgument.Resolve(path)
            : throw new CliException("--stage policy-rank needs --init MODEL (a model with a compute policy)");
        var options = new PolicyRankOptions
        {
            InitPath = init,
            OutputPath = output,
            Steps = steps,
            Seed = args.GetValue(Options.Seed),
            LearningRate = args.GetValue(Options.LearningRate),
            Sequences = args.GetValue(PolicyOptions.RankSequences),
            Rule = args.GetValue(PolicyOptions.RankRule) == "frame" ? Pipeline.Model.Policy.BudgetRule.PerFrame : Pipeline.Model.Policy.BudgetRule.Average,
            Targets = args.GetValue(PolicyOptions.RankTargets) is { Length: > 0 } targets ? targets : PolicyRankOptions.DefaultTargets,
        };
        var errors = options.Validate();
        if (errors.Count > 0)
        {
            throw new CliException(string.Join("; ", errors));
        }
        Console.WriteLine($"ranking the compute policy's decisions: {options.Sequences} sequences x {options.FramesPerSequence} frames, targets " +
            $"{string.Join(",", options.Targets)}, {steps} steps, from {init} -> {output}");
        PolicyRankReport report;
        try
        {
            report = new PolicyRanker(options, Console.WriteLine).Run(stop);
        }
        catch (OperationCanceledException)
        {
            Console.WriteLine("interrupted; nothing written");
            return Interrupted;
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            throw new CliException(e.Message);
        }
        foreach (var unit in report.Units)
        {
            Console.WriteLine($"target {unit.Target:F2} {unit.Unit}: labelled 1 on {unit.Runs} of {unit.Frames} frames; decisions agree with the labels " +
                $"on {unit.AgreementBefore:P1} of the frames before, {unit.AgreementAfter:P1} after");
        }
        Console.WriteLine($"other logits moved by {report.OtherLogitChange:F3} on average -> {output}");
        return 0;
    }
}
