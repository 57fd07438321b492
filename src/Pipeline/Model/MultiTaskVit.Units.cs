using StreamMtl.Pipeline.Model.Policy;
using static TorchSharp.torch;

namespace StreamMtl.Pipeline.Model;

public sealed partial class MultiTaskVit
{
    private UnitPolicy? _policy;

    /// <summary>The compute policy stored with the model, or null (the model then runs every unit unless told otherwise).</summary>
    public UnitPolicy? Policy => _policy;

    /// <summary>The executable units (<see cref="ComputeUnits"/>) at the model's split layer.</summary>
    public IReadOnlyList<ComputeUnit> Units => _units ??= ComputeUnits.Of(Config);

    private IReadOnlyList<ComputeUnit>? _units;

    private void RegisterPolicy()
    {
        if (Config.Policy is { } policy)
        {
            _policy = new UnitPolicy("policy", Config, policy);
            register_module("policy", _policy);
        }
    }

    /// <summary>
    /// Unit logits [B, U] of the stored policy for normalised images [B, 3, H, W] and per-sample targets [B], for
    /// training and for the static baseline (inference decides inside <see cref="Forward"/>).
    /// </summary>
    public Tensor PolicyLogits(Tensor images, Tensor targets)
    {
        var policy = _policy ?? throw new InvalidOperationException("this model has no compute policy");
        using var scope = NewDisposeScope();
        return policy.Logits(_embed.EmbedImage(images), targets).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The summaries [B, 2D] the policy reads for normalised images [B, 3, H, W] (<see cref="UnitPolicy.Pooled"/>), so a
    /// policy can be trained on frames whose summaries were computed once (<see cref="UnitPolicy.LogitsOfPooled"/>).
    /// </summary>
    public Tensor PolicyInput(Tensor images)
    {
        using var scope = NewDisposeScope();
        return UnitPolicy.Pooled(_embed.EmbedImage(images)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// What each unit, the mandatory part and the full pass cost for one sample of <paramref name="tokens"/> tokens with
    /// <paramref name="tasks"/> requested, counted as a pass with <paramref name="fused"/> sub-task weights counts them.
    /// </summary>
    public UnitCosts UnitCosts(long tokens, TaskSet tasks, bool fused, bool withPolicy = true)
    {
        var units = Units;
        var costs = new long[units.Count];
        var candidates = new bool[units.Count];
        bool runBase = tasks.Contains(Config.BaseTask);
        for (int u = 0; u < units.Count; u++)
        {
            var unit = units[u];
            costs[u] = UnitCost(u, tokens, fused);
            candidates[u] = unit.SubTask is VisionTask task ? tasks.Contains(task) : unit.Block < Config.SplitLayer || runBase;
        }
        var fixedPart = new FlopCounter();
        _embed.CountFlops(fixedPart, Config.BaseTask, tokens, tokens);
        foreach (var task in Config.AllTasks.Where(t => tasks.Contains(t)))
        {
            _heads[task].CountFlops(fixedPart, task, tokens, tokens);
        }
        long mandatory = fixedPart.ExecutedTotal;
        long dense = mandatory + Enumerable.Range(0, units.Count).Where(u => candidates[u]).Sum(u => costs[u]);
        if (withPolicy && _policy != null)
        {
            mandatory += _policy.Flops(tokens);
        }
        return new UnitCosts(costs, candidates, mandatory, dense);
    }

    /// <summary>
    /// Of the units <paramref name="tasks"/> need, the share that ran (1 when <paramref name="units"/> is null: every unit) and
    /// the names of those skipped.
    /// </summary>
    public (double Fraction, IReadOnlyList<string> Skipped) DescribeUnits(GatedUnits? units, TaskSet tasks)
    {
        if (units is null || !units.SkipsAny)
        {
            return (1, []);
        }
        bool runBase = tasks.Contains(Config.BaseTask);
        int needed = 0;
        var skipped = new List<string>();
        for (int u = 0; u < Units.Count; u++)
        {
            var unit = Units[u];
            if (unit.SubTask is VisionTask task ? tasks.Contains(task) : unit.Block < Config.SplitLayer || runBase)
            {
                needed++;
                if (!units.Run(u))
                {
                    skipped.Add(unit.Name);
                }
            }
        }
        return (needed == 0 ? 1 : (double)(needed - skipped.Count) / needed, skipped);
    }

    /// <summary>
    /// The schedule of one pass: null when every unit runs (no plan, no budget, or a budget of 1); else the units each
    /// sample runs (an explicit plan, or the policy's choice under the budget) or the training gates.
    /// </summary>
    private UnitSchedule? Schedule(Tensor x0, ForwardOptions options, int split, long tokens, FlopCounter counter)
    {
        int given = (options.Units != null ? 1 : 0) + (options.Budget != null ? 1 : 0) + (options.UnitGates is null ? 0 : 1);
        if (given == 0)
        {
            return null;
        }
        if (given > 1)
        {
            throw new ArgumentException("give at most one of a unit plan, a budget and unit gates", nameof(options));
        }
        if (split != Config.SplitLayer)
        {
            throw new ArgumentException($"units are defined at the model's split layer {Config.SplitLayer}; cannot skip units at split {split}", nameof(options));
        }
        if (options.ShareThreshold > 0)
        {
            throw new ArgumentException("skipping units does not combine with the activation-sharing threshold; use threshold 0", nameof(options));
        }
        long batch = x0.shape[0];
        if (options.UnitGates is Tensor gates)
        {
            if (gates.shape.Length != 2 || gates.shape[0] != batch || gates.shape[1] != Units.Count)
            {
                throw new ArgumentException($"unit gates must be [{batch}, {Units.Count}]; got [{string.Join(", ", gates.shape)}]", nameof(options));
            }
            return new UnitSchedule(null, gates, false, null);
        }
        if (options.Units is UnitPlan plan)
        {
            if (plan.Units != Units.Count || (plan.Rows != 1 && plan.Rows != batch))
            {
                throw new ArgumentException($"the unit plan has {plan.Rows} row(s) of {plan.Units} units; this model has {Units.Count} units and the batch {batch} samples", nameof(options));
            }
            return new UnitSchedule(plan, null, options.Fused && CanFuse, null);
        }
        double budget = Budget.Validate(options.Budget!.Value, nameof(options));
        if (budget >= 1)
        {
            return null;
        }
        var policy = _policy ?? throw new InvalidOperationException("this model has no compute policy: a budget below 1 needs one (a model trained with `streammtl train --stage policy`)");
        var costs = UnitCosts(tokens, options.Tasks, options.Fused && CanFuse);
        float[] scores;
        using (var scope = NewDisposeScope())
        {
            var targets = tensor(Enumerable.Repeat((float)budget, (int)batch).ToArray(), device: x0.device);
            scores = policy.Logits(x0, targets).to(ScalarType.Float32).cpu().data<float>().ToArray();
        }
        counter.Overhead(Config.BaseTask, batch * policy.Flops(tokens));
        long available = costs.Available(budget);
        int n = Units.Count;
        var rows = new bool[batch][];
        for (int b = 0; b < batch; b++)
        {
            var frame = new ArraySegment<float>(scores, b * n, n);
            rows[b] = options.Rule == BudgetRule.Average ? Budget.Decide(frame, costs.Candidates, options.LogitOffset) : Budget.Choose(frame, costs.Costs, costs.Candidates, available);
        }
        return new UnitSchedule(new UnitPlan(rows), null, options.Fused && CanFuse, scores);
    }

    /// <summary>
    /// Runs unit <paramref name="unit"/> (<paramref name="block"/> on the residual stream <paramref name="x"/>) as the
    /// schedule says: every sample, the samples whose plan has it (the others keep <paramref name="x"/>: a skipped block is
    /// the identity), or gated x + g (block(x) - x) per sample. Skipped samples' FLOPs count as dense, not executed.
    /// </summary>
    private Tensor RunUnit(Tensor x, int unit, UnitSchedule? schedule, Func<Tensor, Tensor> block, VisionTask task, FlopCounter counter)
    {
        if (schedule == null)
        {
            return block(x);
        }
        long batch = x.shape[0];
        if (schedule.Gates is Tensor gates)
        {
            var g = gates.select(1, unit).view(batch, 1, 1).to(x.dtype);
            var y = block(x);
            return x.Plus(y.sub(x).mul(g));
        }
        var plan = schedule.Plan!;
        var samples = Enumerable.Range(0, (int)batch).Where(b => plan.Runs(b, unit)).Select(b => (long)b).ToArray();
        if (samples.Length < batch)
        {
            counter.Skipped(task, (batch - samples.Length) * UnitCost(unit, x.shape[1], schedule.Fold));
        }
        if (samples.Length == batch)
        {
            return block(x);
        }
        if (samples.Length == 0)
        {
            return x;
        }
        using var index = tensor(samples, device: x.device);
        return x.index_copy(0, index, block(x.index_select(0, index)));
    }

    /// <summary>FLOPs of unit <paramref name="unit"/> on one sample of <paramref name="tokens"/> tokens, as the dense pass counts them.</summary>
    private long UnitCost(int unit, long tokens, bool fold)
    {
        var u = Units[unit];
        var sub = u.SubTask is VisionTask t ? _subBlocks[t][u.Block - Config.DeltaFrom] : null;
        var counter = new FlopCounter();
        foreach (var which in Enum.GetValues<BlockLinear>())
        {
            CountBlockLinear(counter, Config.BaseTask, _blocks[u.Block], sub, which, tokens, tokens, fold);
        }
        counter.Attention(Config.BaseTask, 1, Config.Heads, tokens, tokens, tokens, Config.HeadDim);
        return counter.ExecutedTotal;
    }

    /// <summary>
    /// A pass's unit decisions: a plan (which samples run which units) or soft/straight-through gates [B, U]; under a budget
    /// also the policy's logits (B x U, row-major) and whether sub-task weights are folded (for counting skipped units).
    /// </summary>
    private sealed record UnitSchedule(UnitPlan? Plan, Tensor? Gates, bool Fold, float[]? Scores);
}
