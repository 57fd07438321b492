using System.Diagnostics;
using StreamMtl.Pipeline.Model;
using StreamMtl.Pipeline.Model.Policy;
using StreamMtl.Pipeline.Weights;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace StreamMtl.Training.Policy;

/// <summary>
/// Co-trains a compute policy with the model (AdaMTL): per sample a target complexity in [min, max], straight-through
/// Gumbel-sigmoid unit gates from the policy, and the loss: distillation from the frozen full model's outputs (all
/// tasks) + the task losses on the synthetic truth + lambda (expected executed FLOP fraction - target)^2. The model's
/// weights fine-tune with a small learning rate so they tolerate skipped blocks. Seeded; CPU or CUDA.
/// </summary>
public sealed class PolicyTrainer
{
    private readonly PolicyTrainOptions _options;
    private readonly Action<PolicyStep>? _progress;

    public PolicyTrainer(PolicyTrainOptions options, Action<PolicyStep>? progress = null)
    {
        var errors = options.Validate();
        if (errors.Count > 0)
        {
            throw new ArgumentException("invalid policy training settings: " + string.Join("; ", errors), nameof(options));
        }
        _options = options;
        _progress = progress;
    }

    /// <summary>Runs every step, writes the model and returns each step's figures.</summary>
    public IReadOnlyList<PolicyStep> Run(CancellationToken cancellationToken = default)
    {
        var o = _options;
        random.manual_seed(o.Seed);
        var device = cuda.is_available() ? CUDA : CPU;
        var (teacher, _) = ModelFile.Load(o.InitPath);
        using var teacherScope = teacher;
        var (model, metadata) = o.PlanTargets != null ? ModelFile.Load(o.InitPath) : PolicyModel.Load(o.InitPath, o.PolicyHidden);
        using var modelScope = model;
        if (o.PlanTargets != null && model.Policy == null)
        {
            throw new ArgumentException($"{o.InitPath} has no compute policy: training under its unit sets needs one (train --stage policy first)", nameof(o));
        }
        teacher.to(device);
        model.to(device);
        foreach (var p in teacher.parameters())
        {
            p.requires_grad = false;
        }
        model.train();
        var policyParameters = model.Policy!.parameters().ToList();
        var policySet = policyParameters.ToHashSet();
        if (o.PlanTargets != null)
        {
            foreach (var p in policyParameters)
            {
                p.requires_grad = false;
            }
        }
        var modelParameters = model.parameters().Where(p => !policySet.Contains(p)).ToList();
        using var modelOptimizer = optim.AdamW(modelParameters, o.ModelLearningRate, weight_decay: 0.01);
        using var policyOptimizer = optim.AdamW(policyParameters, o.PolicyLearningRate, weight_decay: 0);

        var dataset = SyntheticDataset.Training(o.Width, o.Height);
        var pool = new FramePool(dataset, o.PoolSize, o.Seed);
        var config = model.Config;
        var tasks = config.AllTasks.ToList();
        var steps = new List<PolicyStep>();
        var clock = Stopwatch.StartNew();
        var targetRng = new Random(unchecked(o.Seed * 104_729 + 17));
        int step = 0;
        for (; step < o.Steps && !cancellationToken.IsCancellationRequested; step++)
        {
            var rng = new Random(unchecked(o.Seed * 7_919 + step));
            pool.Replace(o.ReplacePerStep, rng);
            bool fullFrame = o.FullFrameEvery > 0 && step % o.FullFrameEvery == o.FullFrameEvery - 1;
            using var scope = NewDisposeScope();
            int fullBatch = TrainingBatch.FullFrameBatch(o.Batch, o.Twins);
            using var batch = fullFrame
                ? TrainingBatch.Sample(pool, rng, fullBatch, int.MaxValue, int.MaxValue, config, o.Twins, o.JpegMinQuality, o.Twins)
                : TrainingBatch.Sample(pool, rng, o.Batch, o.CropRows, o.CropCols, config, o.Twins, o.JpegMinQuality, o.Twins);
            var onDevice = batch.To(device);
            var images = onDevice.Images;
            int b = (int)images.shape[0];
            long tokens = images.shape[2] / config.Patch * (images.shape[3] / config.Patch);

            // Per sample: a target, or the full model (every gate 1, no FLOP term).
            var targets = new float[b];
            var underTarget = new float[b];
            // One generator for the whole run rather than the step's: Randoms seeded with nearby numbers (one per step)
            // give correlated draws, and the run's log showed the same target at every 10th step.
            float stepTarget = (float)(o.MinTarget + targetRng.NextDouble() * (o.MaxTarget - o.MinTarget));
            for (int i = 0; i < b; i++)
            {
                if (o.Twins && i % 2 == 1)
                {
                    // The second copy of a frame runs under its twin's target.
                    targets[i] = targets[i - 1];
                    underTarget[i] = underTarget[i - 1];
                    continue;
                }
                bool full = rng.NextDouble() < o.FullShare;
                float drawn = o.PlanTargets is { } plans ? (float)plans[rng.Next(plans.Count)]
                    : o.FlopLoss == FlopLoss.Batch ? stepTarget : (float)(o.MinTarget + rng.NextDouble() * (o.MaxTarget - o.MinTarget));
                targets[i] = full ? 1f : drawn;
                underTarget[i] = full ? 0f : 1f;
            }
            var target = tensor(targets, device: device);
            var selected = tensor(underTarget, device: device);
            var costs = model.UnitCosts(tokens, TaskSet.All, fused: true);
            var fractions = tensor(costs.Costs.Select((c, u) => costs.Candidates[u] ? (float)c / costs.Dense : 0f).ToArray(), device: device);

            double mandatory = (double)costs.Mandatory / costs.Dense;
            var selectedCount = selected.sum().clamp_min(Scalars.One);
            Tensor decided, policyError, flopLoss;
            if (o.PlanTargets != null)
            {
                // The frozen policy's sets under the per-frame rule; the error recorded is what they spend against the target.
                decided = TwinsAgree(PlanGates(model, images, targets, costs, underTarget).to(device), o.Twins);
                flopLoss = zeros(1, device: device).sum();
                policyError = PolicyLosses.ExecutedFraction(decided, fractions, mandatory).sub(target).abs().mul(selected).sum().div(selectedCount);
            }
            else
            {
                var logits = model.PolicyLogits(images, target);
                double noise = o.Steps == 1 ? 1 : 1 + (o.NoiseEnd - 1) * step / (o.Steps - 1);
                decided = TwinsAgree(PolicyLosses.StraightThroughGates(logits, o.Temperature, noise), o.Twins);
                // The policy's error (recorded per step): of the batch's mean decision for the batch loss, else per sample.
                if (o.FlopLoss == FlopLoss.Batch)
                {
                    // AdaMTL: the mean executed fraction of the hard decisions, so a frame may spend more where it needs it.
                    var error = PolicyLosses.ExecutedFraction(decided, fractions, mandatory).sub(target);
                    var batchError = error.mul(selected).sum().div(selectedCount);
                    flopLoss = batchError.mul(batchError);
                    policyError = batchError.abs();
                }
                else
                {
                    var error = PolicyLosses.ExpectedFraction(logits, fractions, mandatory).sub(target);
                    flopLoss = error.mul(error).mul(selected).sum().div(selectedCount);
                    policyError = error.abs().mul(selected).sum().div(selectedCount);
                }
            }

            // Samples under a target run their decisions; the others the full model (every gate 1).
            var gates = decided.mul(selected.view(-1, 1)).Plus(selected.neg().PlusInPlace(1).view(-1, 1));
            var forward = model.Forward(images, new ForwardOptions(TaskSet.All, GridOffset: onDevice.GridOffset, UnitGates: gates));
            ForwardResult reference;
            using (no_grad())
            {
                reference = teacher.Forward(images, new ForwardOptions(TaskSet.All, GridOffset: onDevice.GridOffset));
            }
            var taskLoss = tasks.Select(t => Losses.For(t, forward.Raw(t), onDevice)).Aggregate((x, y) => x.Plus(y));
            var distill = tasks.Select(t => PolicyLosses.Distill(t, forward.Raw(t), reference.Raw(t))).Aggregate((x, y) => x.Plus(y));
            var loss = taskLoss.mul(Scalars.Of(o.TaskWeight))
                .Plus(distill.mul(Scalars.Of(o.DistillWeight)))
                .Plus(flopLoss.mul(Scalars.Of(o.FlopWeight)));
            double stability = double.NaN;
            if (o.Twins)
            {
                var penalty = tasks.Select(t => Losses.Stability(t, forward.Raw(t))).Aggregate((x, y) => x.Plus(y));
                stability = penalty.item<float>();
                loss = loss.Plus(penalty.mul(Scalars.Of(o.StabilityWeight)));
            }

            modelOptimizer.zero_grad();
            policyOptimizer.zero_grad();
            loss.backward();
            double value = loss.item<float>();
            bool finite = double.IsFinite(value)
                & double.IsFinite(nn.utils.clip_grad_norm_(modelParameters, 1.0))
                & (o.PlanTargets != null || double.IsFinite(nn.utils.clip_grad_norm_(policyParameters, 1.0)));
            if (finite)
            {
                modelOptimizer.step();
                if (o.PlanTargets == null)
                {
                    policyOptimizer.step();
                }
            }
            double samples = underTarget.Sum();
            double meanError = samples == 0 ? double.NaN : policyError.item<float>();
            double meanTarget = samples == 0 ? double.NaN : targets.Where((_, i) => underTarget[i] > 0).Average();
            var record = new PolicyStep(step, value, taskLoss.item<float>(), distill.item<float>(), flopLoss.item<float>(), meanError, meanTarget, stability);
            steps.Add(record);
            _progress?.Invoke(record);
        }

        if (step >= o.Steps)
        {
            model.to(CPU);
            double last = steps.Skip(Math.Max(0, steps.Count - 50)).Average(s => s.Loss);
            string how = o.PlanTargets is { } plans
                ? $"the policy frozen; the model under the per-frame rule's unit sets at targets {string.Join(",", plans)}, " +
                  $"{o.FullShare:P0} full; loss = task x{o.TaskWeight} + distillation x{o.DistillWeight}; lr model {o.ModelLearningRate}"
                : $"targets {o.MinTarget}-{o.MaxTarget}, " +
                  $"{o.FullShare:P0} full; loss = task x{o.TaskWeight} + distillation x{o.DistillWeight} + FLOP ({o.FlopLoss.ToString().ToLowerInvariant()}) x{o.FlopWeight}; " +
                  $"Gumbel-sigmoid T={o.Temperature}, noise 1 -> {o.NoiseEnd}; lr model {o.ModelLearningRate}, policy {o.PolicyLearningRate}";
            if (o.Twins)
            {
                how += $"; output-stability penalty {o.StabilityWeight} on twins (one frame, two degradations, one unit set)";
            }
            if (o.JpegMinQuality > 0)
            {
                how += "; " + CameraDegradation.Describe(o.JpegMinQuality);
            }
            metadata.Training.Add(new TrainingRecord(o.PlanTargets != null ? "policy-plans" : "policy", "segmentation+depth+normals", step, o.Batch,
                $"{o.CropRows}x{o.CropCols} tokens, full frames every {o.FullFrameEvery}; " + how,
                o.Seed, pool.Rendered, clock.Elapsed.TotalSeconds, last,
                $"synthetic seeds >= {SyntheticDataset.FirstTrainingSeed}, {o.Width}x{o.Height}, static and moving cameras"));
            // The figures recorded for the starting model no longer describe these weights.
            ModelFile.Save(o.OutputPath, model, metadata with { Metrics = [] });
        }
        return steps;
    }

    /// <summary>Each pair's first row in both of its rows ([B, U], B even): twins run the units decided on the first copy.</summary>
    internal static Tensor TwinRows(Tensor rows) =>
        rows.view(rows.shape[0] / 2, 2, rows.shape[1]).select(1, 0).repeat_interleave(2, 0);

    /// <summary>
    /// The gates as decided, or with <paramref name="twins"/> the first copy's in both rows of each pair, so both copies
    /// run the same units and the FLOP term and the stability penalty see the gates that ran.
    /// </summary>
    private static Tensor TwinsAgree(Tensor gates, bool twins) => twins ? TwinRows(gates) : gates;

    /// <summary>
    /// Per sample under a target (<paramref name="underTarget"/> 1), the units <see cref="Budget.Choose"/> picks from the
    /// policy's logits at its target, as the per-frame rule serves them; 1 for every unit of the others. [B, U], float 0/1, on the CPU.
    /// </summary>
    internal static Tensor PlanGates(MultiTaskVit model, Tensor images, float[] targets, UnitCosts costs, float[] underTarget)
    {
        int b = targets.Length;
        int n = model.Units.Count;
        float[] scores;
        using (no_grad())
        using (var scope = NewDisposeScope())
        {
            scores = model.PolicyLogits(images, tensor(targets, device: images.device)).to(ScalarType.Float32).cpu().data<float>().ToArray();
        }
        var gates = new float[b * n];
        for (int i = 0; i < b; i++)
        {
            var row = underTarget[i] > 0
                ? Budget.Choose(new ArraySegment<float>(scores, i * n, n), costs.Costs, costs.Candidates, costs.Available(targets[i]))
                : Enumerable.Repeat(true, n).ToArray();
            for (int u = 0; u < n; u++)
            {
                gates[i * n + u] = row[u] ? 1f : 0f;
            }
        }
        return tensor(gates).view(b, n);
    }
}
