using System.Diagnostics;
using StreamMtl.Ingest.Synthetic;
using StreamMtl.Pipeline.Model;
using StreamMtl.Pipeline.Model.Policy;
using StreamMtl.Pipeline.Runners;
using StreamMtl.Pipeline.Weights;
using StreamMtl.Training.Evaluation;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace StreamMtl.Training.Policy;

/// <summary>One unit ranked at one target: how many training frames the policy ran it on, and how often its decisions
/// agreed with the frames' ranking by gain before and after.</summary>
public sealed record RankedUnit(double Target, string Unit, int Frames, int Runs, double AgreementBefore, double AgreementAfter);

/// <summary>What a ranking run did: the units it ranked, the mean absolute change of every other logit, its loss per step.</summary>
public sealed record PolicyRankReport(IReadOnlyList<RankedUnit> Units, double OtherLogitChange, IReadOnlyList<double> Losses);

/// <summary>
/// Teaches a co-trained compute policy which frames gain from a unit (<c>train --stage policy-rank</c>). Co-training leaves
/// the logits dominated by per-unit biases, so under the average rule the unit that sits near 1/2 at a target goes to frames
/// no better than chance (docs/adaptive.md, "At equal FLOPs"). Here, on training frames: at each target, every unit the
/// policy runs on some frames and skips on others is tried both ways on every frame (the frame's other decisions as the
/// policy makes them), and the ground truth's drop in error (<see cref="OracleBaseline.Combine"/>) ranks the frames; the
/// frames ranked in the top as many as the policy ran it on become its labels. The policy alone (the model is frozen) then
/// fits those labels by binary cross-entropy on that unit's logit, while every other logit is held near its old value
/// (squared change x <see cref="PolicyRankOptions.KeepWeight"/>), so the unit runs on as many frames as before and the
/// other decisions stay. Summaries of the frames are computed once (<see cref="MultiTaskVit.PolicyInput"/>); seeded.
/// </summary>
public sealed class PolicyRanker
{
    private readonly PolicyRankOptions _options;
    private readonly Action<string>? _log;

    public PolicyRanker(PolicyRankOptions options, Action<string>? log = null)
    {
        var errors = options.Validate();
        if (errors.Count > 0)
        {
            throw new ArgumentException("invalid policy ranking settings: " + string.Join("; ", errors), nameof(options));
        }
        _options = options;
        _log = log;
    }

    /// <summary>Ranks, trains the policy, writes the model and reports what it did.</summary>
    public PolicyRankReport Run(CancellationToken cancellationToken = default)
    {
        var o = _options;
        random.manual_seed(o.Seed);
        var (model, metadata) = ModelFile.Load(o.InitPath);
        using var modelScope = model;
        var policy = model.Policy ?? throw new ArgumentException($"{o.InitPath} has no compute policy: co-train one first (train --stage policy)");
        var clock = Stopwatch.StartNew();
        var frames = Render(o);
        _log?.Invoke($"rendered {frames.Count} training frames in {clock.Elapsed.TotalSeconds:F0} s");

        var units = model.Units;
        long tokens = (long)(o.Height / model.Config.Patch) * (o.Width / model.Config.Patch);
        var candidates = model.UnitCosts(tokens, TaskSet.All, fused: true).Candidates;
        Tensor pooled;
        var reference = new Dictionary<double, Tensor>();
        using var keep = NewDisposeScope();
        using (no_grad())
        {
            pooled = cat([.. frames.Select(f => model.PolicyInput(ImageTensors.FromBgr(f.Bgr, f.Width, f.Height, model.Config)))], 0);
            foreach (double target in o.Targets)
            {
                reference[target] = policy.LogitsOfPooled(pooled, Targets(frames.Count, target));
            }
        }

        var ranked = o.Rule == BudgetRule.Average
            ? RankAverage(model, frames, reference, candidates, cancellationToken, clock)
            : RankPerFrame(model, frames, reference, tokens, cancellationToken, clock);
        if (ranked.Count == 0)
        {
            throw new InvalidOperationException(o.Rule == BudgetRule.Average
                ? $"at no target does the policy run a unit on some frames and skip it on others (at least {o.MinShare:P0} of the frames each way): nothing to rank"
                : "at no target is there a unit left out that could take the place of the last one the fixed set runs: nothing to rank");
        }
        var before = ranked.Select(r => Agreement(reference[r.Target], r)).ToList();

        foreach (var p in model.parameters())
        {
            p.requires_grad = false;
        }
        var parameters = policy.parameters().ToList();
        foreach (var p in parameters)
        {
            p.requires_grad = true;
        }
        using var optimizer = optim.AdamW(parameters, o.LearningRate, weight_decay: o.WeightDecay);
        var labelTensors = ranked.Select(r => tensor(r.Labels)).ToList();
        // Per target, 1 for the units held near their old logits (every unit the target's labels do not concern).
        var held = o.Targets.ToDictionary(t => t, t => Held(ranked, t, units.Count));
        var losses = new List<double>();
        for (int step = 0; step < o.Steps && !cancellationToken.IsCancellationRequested; step++)
        {
            using var scope = NewDisposeScope();
            Tensor loss = zeros(1);
            foreach (double target in o.Targets)
            {
                var logits = policy.LogitsOfPooled(pooled, Targets(frames.Count, target));
                foreach (var (r, i) in ranked.Select((r, i) => (r, i)).Where(x => x.r.Target == target))
                {
                    loss = loss.Plus(F.binary_cross_entropy_with_logits(Margin(logits, r), labelTensors[i]));
                    if (r.Versus >= 0)
                    {
                        // The pair as a whole stays where it was among the other units; only its order moves.
                        var middle = logits.select(1, r.Unit).Plus(logits.select(1, r.Versus))
                            .sub(reference[target].select(1, r.Unit).Plus(reference[target].select(1, r.Versus))).div(Scalars.Of(2));
                        loss = loss.Plus(middle.mul(middle).mean().mul(Scalars.Of(o.KeepWeight)));
                    }
                }
                var change = logits.sub(reference[target]).mul(held[target]);
                loss = loss.Plus(change.mul(change).mean().mul(Scalars.Of(o.KeepWeight)));
            }
            optimizer.zero_grad();
            loss.backward();
            optimizer.step();
            losses.Add(loss.item<float>());
            if (step % 50 == 0 || step == o.Steps - 1)
            {
                _log?.Invoke($"[policy-rank] {step + 1}/{o.Steps} loss {losses[^1]:F4}");
            }
        }
        if (losses.Count < o.Steps)
        {
            throw new OperationCanceledException("policy ranking interrupted; nothing written");
        }

        var report = new List<RankedUnit>();
        double otherChange;
        using (no_grad())
        {
            var after = o.Targets.ToDictionary(t => t, t => policy.LogitsOfPooled(pooled, Targets(frames.Count, t)));
            report.AddRange(ranked.Select((r, i) => new RankedUnit(r.Target, Name(units, r), frames.Count, r.Runs, before[i],
                Agreement(after[r.Target], r))));
            otherChange = o.Targets.Average(t =>
                after[t].sub(reference[t]).abs().mul(held[t]).sum().item<float>() / (held[t].sum().item<float>() * frames.Count));
        }
        metadata.Training.Add(new TrainingRecord("policy-rank", "segmentation+depth+normals", o.Steps, frames.Count,
            $"policy only, {(o.Rule == BudgetRule.Average ? "average" : "per-frame")} rule ranked at targets {string.Join(",", o.Targets)}: " +
            $"{string.Join(", ", ranked.Select(r => $"{Name(units, r)}@{r.Target}"))}; " +
            $"lr {o.LearningRate}, weight decay {o.WeightDecay}, keep x{o.KeepWeight}",
            o.Seed, frames.Count, clock.Elapsed.TotalSeconds, losses[^1],
            $"synthetic seeds >= {SyntheticDataset.FirstTrainingSeed}, {o.Width}x{o.Height}, {o.Sequences} sequences x {o.FramesPerSequence} frames"));
        ModelFile.Save(o.OutputPath, model, metadata);
        return new PolicyRankReport(report, otherChange, losses);
    }

    /// <summary>
    /// One ranked decision: under the average rule, whether <see cref="Unit"/> runs (its logit above 0; <see cref="Versus"/>
    /// -1); under the per-frame rule, whether <see cref="Unit"/> takes <see cref="Versus"/>'s place in the fixed set (its
    /// logit above Versus's). <see cref="Labels"/> per training frame, <see cref="Runs"/> frames labelled 1.
    /// </summary>
    private sealed record Ranked(double Target, int Unit, int Versus, float[] Labels, int Runs);

    /// <summary>[U]: 1 for each unit that no ranked decision at <paramref name="target"/> concerns, 0 for the rest.</summary>
    private static Tensor Held(List<Ranked> ranked, double target, int units)
    {
        var held = Enumerable.Repeat(1f, units).ToArray();
        foreach (var r in ranked.Where(r => r.Target == target))
        {
            held[r.Unit] = 0;
            if (r.Versus >= 0)
            {
                held[r.Versus] = 0;
            }
        }
        return tensor(held);
    }

    private static Tensor Margin(Tensor logits, Ranked r) =>
        r.Versus < 0 ? logits.select(1, r.Unit) : logits.select(1, r.Unit).sub(logits.select(1, r.Versus));

    private static string Name(IReadOnlyList<ComputeUnit> units, Ranked r) =>
        r.Versus < 0 ? units[r.Unit].Name : $"{units[r.Unit].Name} for {units[r.Versus].Name}";

    /// <summary>Share of frames whose decision (<see cref="Margin"/> above 0) matches its label.</summary>
    private static double Agreement(Tensor logits, Ranked r)
    {
        using var scope = NewDisposeScope();
        var values = Margin(logits, r).data<float>().ToArray();
        return values.Select((v, f) => (v > 0) == (r.Labels[f] > 0.5f) ? 1.0 : 0.0).Average();
    }

    /// <summary>
    /// The average rule's labels: at each target, each unit the frames disagree on (at least the least share each way),
    /// 1 on the frames it helps most, as many as the policy ran it on.
    /// </summary>
    private List<Ranked> RankAverage(MultiTaskVit model, List<TruthFrame> frames, Dictionary<double, Tensor> reference, bool[] candidates,
        CancellationToken cancellationToken, Stopwatch clock)
    {
        var o = _options;
        var units = model.Units;
        var ranked = new List<Ranked>();
        foreach (double target in o.Targets)
        {
            var logits = reference[target].data<float>().ToArray();
            var decisions = frames.Select((_, f) => Budget.Decide(logits.AsSpan(f * units.Count, units.Count).ToArray(), candidates)).ToList();
            for (int u = 0; u < units.Count && !cancellationToken.IsCancellationRequested; u++)
            {
                int runs = decisions.Count(d => d[u]);
                if (runs < o.MinShare * frames.Count || frames.Count - runs < o.MinShare * frames.Count)
                {
                    continue;
                }
                var without = frames.Select((f, i) => Errors(model, f, With(decisions[i], u, false))).ToList();
                var with = frames.Select((f, i) => Errors(model, f, With(decisions[i], u, true))).ToList();
                var gains = OracleBaseline.Combine(without, with);
                var top = Enumerable.Range(0, frames.Count).OrderByDescending(f => gains[f]).ThenBy(f => f).Take(runs).ToHashSet();
                ranked.Add(new Ranked(target, u, -1, [.. Enumerable.Range(0, frames.Count).Select(f => top.Contains(f) ? 1f : 0f)], runs));
                _log?.Invoke($"target {target:F2}: {units[u].Name} runs on {runs} of {frames.Count} frames; ranked by gain ({clock.Elapsed.TotalSeconds:F0} s)");
            }
        }
        return ranked;
    }

    /// <summary>
    /// The per-frame rule's labels: at each target, the set the policy's mean logits choose for every frame (the static
    /// baseline's), its last unit in logit order (a) and the first unit left out that fits in its place (b); per frame, 1
    /// where running b instead of a lowers the truth's error. The FLOPs of both sets fit the target, so a frame that swaps
    /// spends within it as the fixed set does.
    /// </summary>
    private List<Ranked> RankPerFrame(MultiTaskVit model, List<TruthFrame> frames, Dictionary<double, Tensor> reference, long tokens,
        CancellationToken cancellationToken, Stopwatch clock)
    {
        var units = model.Units;
        var costs = model.UnitCosts(tokens, TaskSet.All, fused: true);
        var ranked = new List<Ranked>();
        foreach (double target in _options.Targets)
        {
            if (cancellationToken.IsCancellationRequested)
            {
                break;
            }
            var mean = reference[target].mean([0L]).data<float>().ToArray();
            long available = costs.Available(target);
            var fixedSet = Budget.Choose(mean, costs.Costs, costs.Candidates, available);
            var order = Enumerable.Range(0, units.Count).Where(u => costs.Candidates[u]).OrderByDescending(u => mean[u]).ThenBy(u => u).ToList();
            long slack = available - Enumerable.Range(0, units.Count).Where(u => fixedSet[u]).Sum(u => costs.Costs[u]);
            int a = order.LastOrDefault(u => fixedSet[u], -1);
            int b = a < 0 ? -1 : order.FirstOrDefault(u => !fixedSet[u] && costs.Costs[u] <= costs.Costs[a] + slack, -1);
            if (b < 0)
            {
                continue;
            }
            var swapped = With(With(fixedSet, a, false), b, true);
            var kept = frames.Select(f => Errors(model, f, fixedSet)).ToList();
            var swaps = frames.Select(f => Errors(model, f, swapped)).ToList();
            var gains = OracleBaseline.Combine(kept, swaps);
            float[] labels = [.. gains.Select(g => g > 0 ? 1f : 0f)];
            int better = labels.Count(l => l > 0);
            ranked.Add(new Ranked(target, b, a, labels, better));
            _log?.Invoke($"target {target:F2}: {units[b].Name} instead of {units[a].Name} is better on {better} of {frames.Count} frames " +
                $"({clock.Elapsed.TotalSeconds:F0} s)");
        }
        return ranked;
    }

    private static Tensor Targets(int count, double target) => tensor(Enumerable.Repeat((float)target, count).ToArray());

    private static bool[] With(bool[] decision, int unit, bool runs)
    {
        var plan = (bool[])decision.Clone();
        plan[unit] = runs;
        return plan;
    }

    private static double[] Errors(MultiTaskVit model, TruthFrame frame, bool[] plan)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var input = ImageTensors.FromBgr(frame.Bgr, frame.Width, frame.Height, model.Config);
        using var result = model.Forward(input, new ForwardOptions(TaskSet.All, Units: new UnitPlan(plan)));
        return OracleBaseline.Errors(frame, Predictions.From(result));
    }

    /// <summary>The training frames: sequences drawn from the training seeds, frames at the stride.</summary>
    private static List<TruthFrame> Render(PolicyRankOptions o)
    {
        var dataset = SyntheticDataset.Training(o.Width, o.Height);
        var rng = new Random(o.Seed);
        var sequences = Enumerable.Range(0, o.Sequences).Select(_ => rng.Next(dataset.SeedCount)).ToList();
        return dataset.Render(sequences, o.FramesPerSequence, o.FrameStride);
    }
}
