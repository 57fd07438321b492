using StreamMtl.Training.Surgery;
using System.Diagnostics;
using System.Text.Json;
using StreamMtl.Ingest.Synthetic;
using StreamMtl.Training.Data;
using StreamMtl.Pipeline.Inference;
using StreamMtl.Pipeline.Model;
using StreamMtl.Pipeline.Weights;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace StreamMtl.Training;

/// <summary>
/// Trains one stage on synthetic-camera data rendered on the fly (or on a data set on disk, <see cref="TrainOptions.Data"/>): the base (segmentation) model, a
/// sub-task's low-rank deltas and head with the base frozen (as the seed method trains each task from
/// the base), or a full single-task baseline. Seeded, checkpointed, resumable; CUDA when available.
/// </summary>
public sealed class Trainer
{
    private readonly TrainOptions _options;
    private readonly Action<TrainProgress>? _progress;
    private readonly Action<string>? _log;

    /// <param name="log">Told about decisions the run makes on its own (a re-created segmentation head).</param>
    public Trainer(TrainOptions options, Action<TrainProgress>? progress = null, Action<string>? log = null)
    {
        _options = options;
        _progress = progress;
        _log = log;
    }

    /// <summary>For tests: called with the trained model (adapters still attached when adapting) before it is disposed.</summary>
    internal Action<MultiTaskVit>? Trained { get; init; }

    public string CheckpointPath => _options.OutputPath + ".ckpt";

    /// <summary>Runs the stage to the end and writes the model; returns the training record.</summary>
    public TrainingRecord Run(CancellationToken cancellationToken = default)
    {
        var o = _options;
        random.manual_seed(o.Seed);
        var device = cuda.is_available() ? CUDA : CPU;
        var (model, metadata) = CreateModel();
        using var _ = model;
        var resumed = o.Adapting ? null : TryResume(model);
        int startStep = resumed?.Step ?? 0;
        model.to(device);
        model.train();
        using var adapters = o.Adapting ? new SharedAdapters(model.Config, o.AdaptRank) : null;
        if (adapters != null)
        {
            adapters.to(device);
            model.AttachAdapters(adapters);
        }

        var trained = o.TrainedTasks;
        if (trained.Count > 1 && o.Stage != TrainStage.SubTask)
        {
            throw new ArgumentException($"only the sub-task stage trains several tasks at once; got {o.TasksName} for {StageName}");
        }
        if (o.LovaszWeight > 0 && !trained.Contains(VisionTask.Segmentation))
        {
            throw new ArgumentException($"the Lovász-softmax loss is a segmentation loss; {StageName} trains {o.TasksName}");
        }
        var unlabelled = trained.Where(t => o.Data != null && !o.Data.Tasks.Contains(t)).ToList();
        if (unlabelled.Count > 0)
        {
            throw new ArgumentException($"{o.Data!.Name} has no {unlabelled[0].Name()} labels (it has {string.Join(", ", o.Data.Tasks.Select(t => t.Name()))}): {StageName} trains {o.TasksName}");
        }
        // A data set without a sub-task's labels cannot supervise its auxiliary loss; the others still run.
        // Adapting trains every task the data labels: the sub-tasks through their branches, at weight 1 unless --aux says otherwise.
        double auxiliaryWeight = o.Adapting && o.AuxiliaryWeight == 0 ? 1 : o.AuxiliaryWeight;
        IReadOnlyList<VisionTask> auxiliary = auxiliaryWeight > 0 ? [.. model.Config.SubTasks.Where(t => o.Data?.Tasks.Contains(t) ?? true)] : [];
        if (auxiliary.Count > 0 && o.Stage != TrainStage.Base)
        {
            throw new ArgumentException($"auxiliary sub-task losses belong to the base stage, not {StageName}");
        }
        // Each group is clipped on its own: the trained tasks', then each auxiliary sub-task's own parameters.
        var groups = trained.Select(t => (adapters != null ? AdaptedTrainables(model, adapters, t) : Trainables(model, t)).ToList())
            .Concat(auxiliary.Select(t => OnlyHeadsIfAsked(model, model.SubTaskTrainables(t)).ToList())).ToList();
        var trainables = groups.SelectMany(g => g).ToList();
        var trainableSet = trainables.ToHashSet();
        foreach (var p in model.parameters())
        {
            p.requires_grad = trainableSet.Contains(p);
        }
        if (adapters != null)
        {
            long total = model.parameters().Sum(p => p.numel()) + adapters.parameters().Sum(p => p.numel());
            long shared = adapters.parameters().Sum(p => p.numel());
            long trainable = trainables.Sum(p => p.numel());
            _log?.Invoke($"adapting {o.InitPath} at rank {o.AdaptRank}: {trainable:N0} trainable parameters of {total:N0} " +
                $"({100.0 * trainable / total:F1}%; shared adapters {shared:N0}, sub-task parameters and heads {trainable - shared:N0}); the base's weights are frozen");
        }
        var featureFrames = o.FeaturesPath != null ? FeatureTeacherFrames(model) : null;
        // The probe reads the trunk at the split (the tokens every task reads) and is thrown away after training.
        using var probe = featureFrames != null ? nn.Linear(model.Config.Dim, featureFrames.Channels) : null;
        if (probe != null)
        {
            probe.to(device);
            var probeParameters = probe.parameters().ToList();
            groups.Add(probeParameters);
            trainables.AddRange(probeParameters);
        }
        double emaFeature = double.NaN;
        using var optimizer = optim.AdamW(trainables, o.LearningRate, weight_decay: o.WeightDecay);
        if (resumed != null && File.Exists(OptimizerStatePath))
        {
            optimizer.load_state_dict(OptimizerStatePath);  // AdamW moments and step counts
        }

        bool pairs = o.Paired;
        bool twins = o.StabilityWeight > 0;
        bool neighbours = o.TemporalWeight > 0;
        if (pairs)
        {
            TrainingBatch.EnsurePairs(o.Batch);  // before the pool is rendered
        }
        if (twins && neighbours)
        {
            throw new ArgumentException("the stability penalty pairs each frame with itself and the temporal penalty with its neighbour: use one of them");
        }
        if (twins && o.JpegMinQuality <= 0)
        {
            throw new ArgumentException("the stability penalty compares two independently degraded copies of a frame: it needs the compression augmentation (JPEG quality > 0)");
        }
        ITrainingFrames dataset = o.Data != null ? new DatasetFrames(o.Data, DataSplit.Train, o.Width, o.Height) : SyntheticDataset.Training(o.Width, o.Height);
        // A resumed run rebuilds the pool, class weights and loss averages of the straight run at that step.
        int gap = neighbours ? o.TemporalGap : 0;
        var pool = startStep == 0
            ? new FramePool(dataset, o.PoolSize, o.Seed, gap)
            : FramePool.AfterReplacements(dataset, o.PoolSize, o.Seed, gap, startStep, o.ReplacePerStep, StepRandom);
        var tasks = trained.Concat(auxiliary).Aggregate((TaskSet)0, (set, t) => set | t.ToSet());
        float[]? balanced = trained.Contains(VisionTask.Segmentation) && o.BalanceClasses
            ? resumed?.ClassWeights ?? Losses.BalancedClassWeights(pool, model.Config.Classes)
            : null;
        using var classWeights = balanced != null ? tensor(balanced).to(device) : null;
        var clock = Stopwatch.StartNew();
        double emaLoss = resumed?.EmaLoss ?? double.NaN;
        int skipped = 0;
        double emaTemporal = resumed?.EmaTemporal ?? double.NaN;
        int fullBatch = TrainingBatch.FullFrameBatch(o.Batch, pairs);
        int step = startStep;
        for (; step < o.Steps && !cancellationToken.IsCancellationRequested; step++)
        {
            var rng = StepRandom(step);
            pool.Replace(o.ReplacePerStep, rng);
            SetLearningRate(optimizer, step);
            bool full = o.FullFrameEvery > 0 && step % o.FullFrameEvery == o.FullFrameEvery - 1;
            using var scope = NewDisposeScope();
            using var batch = full
                ? TrainingBatch.Sample(pool, rng, fullBatch, int.MaxValue, int.MaxValue, model.Config, pairs, o.JpegMinQuality, twins)
                : TrainingBatch.Sample(pool, rng, o.Batch, o.CropRows, o.CropCols, model.Config, pairs, o.JpegMinQuality, twins);
            var images = batch.Images.to(device);
            ForwardResult forward;
            using (Autocast.BFloat16(o.BFloat16))
            {
                forward = model.Forward(images, new ForwardOptions(tasks, 0f, null, batch.GridOffset, KeepBlockOutputs: neighbours));
            }
            var onDevice = batch.To(device);
            var loss = trained.Select(t => Losses.For(t, forward.Raw(t), onDevice, classWeights)).Aggregate((a, b) => a.Plus(b));
            if (o.LovaszWeight > 0)
            {
                loss = loss.Plus(Losses.LovaszSoftmax(forward.Raw(VisionTask.Segmentation), onDevice.Labels).mul(Scalars.Of(o.LovaszWeight)));
            }
            foreach (var task in auxiliary)
            {
                loss = loss.Plus(Losses.For(task, forward.Raw(task), onDevice).mul(Scalars.Of(auxiliaryWeight)));
            }
            if (pairs)
            {
                var pairPenalty = twins
                    ? trained.Select(t => Losses.Stability(t, forward.Raw(t))).Aggregate((a, b) => a.Plus(b))
                    : trained.Select(t => Losses.TemporalPenalty(forward.BlockOutputs(t))).Aggregate((a, b) => a.Plus(b));
                double penalty = pairPenalty.item<float>();
                emaTemporal = double.IsNaN(emaTemporal) ? penalty : 0.98 * emaTemporal + 0.02 * penalty;
                loss = loss.Plus(pairPenalty.mul(Scalars.Of(twins ? o.StabilityWeight : o.TemporalWeight)));
            }
            if (featureFrames != null)
            {
                var featureLoss = FeatureLoss(model, probe!, featureFrames, rng, device);
                double featureValue = featureLoss.item<float>();
                emaFeature = double.IsNaN(emaFeature) ? featureValue : 0.98 * emaFeature + 0.02 * featureValue;
                FeatureLossObserved?.Invoke(step, featureValue);
                loss = loss.Plus(featureLoss.mul(Scalars.Of(o.FeatureWeight)));
            }
            optimizer.zero_grad();
            loss.backward();
            // A step whose loss or gradients are not finite is skipped, as mixed-precision trainers do: one bad batch
            // (or a diverging head) must not write NaN into every weight it reaches, nor into the recorded loss.
            double value = loss.item<float>();
            bool finite = double.IsFinite(value);
            foreach (var group in groups)
            {
                finite &= double.IsFinite(nn.utils.clip_grad_norm_(group, 1.0));
            }
            if (finite)
            {
                optimizer.step();
                emaLoss = double.IsNaN(emaLoss) ? value : 0.98 * emaLoss + 0.02 * value;
            }
            else
            {
                skipped++;
            }
            if (step % 10 == 0 || step == o.Steps - 1)
            {
                double seconds = clock.Elapsed.TotalSeconds;
                double rate = (step - startStep + 1) * (double)o.Batch / Math.Max(seconds, 1e-9);
                _progress?.Invoke(new TrainProgress(StageName, step + 1, o.Steps, emaLoss, rate,
                    clock.Elapsed, startStep, emaTemporal, twins ? "stability" : "temporal"));
            }
            if (o.CheckpointEvery > 0 && (step + 1) % o.CheckpointEvery == 0 && step + 1 < o.Steps && !o.Adapting)
            {
                SaveCheckpoint(model, metadata, optimizer, StateAt(step + 1));
            }
        }

        var recipe = new List<string> { $"{o.CropRows}x{o.CropCols} tokens", $"full frame every {o.FullFrameEvery}" };
        if (neighbours)
        {
            recipe.Add($"temporal-consistency penalty {o.TemporalWeight} on neighbour pairs (gap <= {o.TemporalGap})");
        }
        if (twins)
        {
            recipe.Add($"output-stability penalty {o.StabilityWeight} on twins (one frame, two degradations)");
        }
        if (o.LovaszWeight > 0)
        {
            recipe.Add($"Lovász-softmax loss x{o.LovaszWeight} on segmentation");
        }
        if (auxiliary.Count > 0)
        {
            recipe.Add($"auxiliary {string.Join("+", auxiliary.Select(t => t.Name()))} losses x{auxiliaryWeight} through the sub-task branches");
        }
        if (adapters != null)
        {
            recipe.Add($"adapted (MTLoRA): shared rank-{o.AdaptRank} adapters, sub-task parameters and heads on a frozen {Path.GetFileName(o.InitPath)}");
        }
        if (featureFrames != null)
        {
            recipe.Add($"feature teacher x{o.FeatureWeight}: {featureFrames.Count} real frames ({featureFrames.Directory}), {o.FeatureBatch} per step, " +
                $"a linear probe (not saved) from the block-{model.Config.SplitLayer} tokens to the {featureFrames.Channels}-d maps, 1 - cosine EMA {emaFeature:F4}");
        }
        if (o.BFloat16)
        {
            recipe.Add("bfloat16 matrix products");
        }
        if (skipped > 0)
        {
            recipe.Add($"{skipped} step(s) skipped (loss or gradients not finite)");
        }
        if (o.JpegMinQuality > 0)
        {
            recipe.Add(CameraDegradation.Describe(o.JpegMinQuality));
        }
        var record = new TrainingRecord(StageName, o.TasksName, step, o.Batch, string.Join(", ", recipe),
            o.Seed, pool.Rendered, clock.Elapsed.TotalSeconds, emaLoss, dataset.Description);
        Trained?.Invoke(model);
        if (adapters != null)
        {
            if (step >= o.Steps)
            {
                AdapterFile.Save(o.OutputPath, model, adapters, new AdapterMetadata
                {
                    BaseVersion = ModelVersion.Of(o.InitPath!, metadata),
                    BaseName = Path.GetFileName(o.InitPath!),
                    Rank = o.AdaptRank,
                    Training = [record],
                });
            }
            return record;
        }
        if (step >= o.Steps)
        {
            model.to(CPU);
            metadata.Training.Add(record);
            ModelFile.Save(o.OutputPath, model, metadata, dropDeltasBeforeSplit: o.Stage == TrainStage.SubTask);
            DeleteCheckpoint();
        }
        else
        {
            SaveCheckpoint(model, metadata, optimizer, StateAt(step));
        }
        return record;

        CheckpointState StateAt(int completedSteps) =>
            new(StageName, o.TasksName, o.Seed, completedSteps, emaLoss, emaTemporal, balanced);
    }

    /// <summary>For tests: each step's feature-teacher loss (1 - cosine) before the update.</summary>
    internal Action<int, double>? FeatureLossObserved { get; init; }

    private FeatureFrames FeatureTeacherFrames(MultiTaskVit model)
    {
        var o = _options;
        if (o.Stage != TrainStage.Base || o.Adapting || o.HeadsOnly || o.Resume)
        {
            throw new ArgumentException("the feature teacher (--features) trains the shared trunk: it belongs to the base stage, without --adapt, --heads-only or --resume (its probe is not checkpointed)");
        }
        if (model.Config.SplitLayer < 1)
        {
            throw new ArgumentException("the feature teacher's probe reads the trunk at the split layer; a split of 0 has no shared blocks");
        }
        var frames = new FeatureFrames(o.FeaturesPath!, o.Width, o.Height, model.Config.Patch);
        _log?.Invoke($"feature teacher: {frames.Description}");
        return frames;
    }

    /// <summary>1 - the mean cosine similarity between the probe of the split layer's tokens and the teacher's maps, over a sampled batch of real frames.</summary>
    private Tensor FeatureLoss(MultiTaskVit model, Linear probe, FeatureFrames frames, Random rng, Device device)
    {
        var (images, targets) = frames.Sample(rng, _options.FeatureBatch, model.Config);
        ForwardResult trunk;
        using (Autocast.BFloat16(_options.BFloat16))
        {
            trunk = model.Forward(images.to(device), new ForwardOptions((TaskSet)0, KeepBlockOutputs: true));
        }
        var tokens = trunk.BlockOutputs(model.Config.BaseTask)[model.Config.SplitLayer - 1].to(ScalarType.Float32);
        var predicted = probe.forward(tokens);                         // [B, N, C]
        var wanted = targets.to(device).flatten(2).transpose(1, 2);    // [B, C, R, Cc] -> [B, N, C]
        return nn.functional.cosine_similarity(predicted, wanted, 2).mean().neg().add(Scalars.One, Scalars.One);
    }

    private string StageName => _options.Stage switch
    {
        TrainStage.Base => "base",
        TrainStage.SubTask => "subtask",
        _ => "single",
    };

    private (MultiTaskVit Model, ModelMetadata Metadata) CreateModel()
    {
        var o = _options;
        if (o.Stage == TrainStage.SubTask)
        {
            if (o.InitPath == null)
            {
                throw new ArgumentException("the sub-task stage needs --init with a trained base model");
            }
            var loaded = ModelFile.Load(o.InitPath, o.SplitLayer, o.Config.RefineTasks, o.Config.RefineHidden);
            if (DataClasses is { } table && loaded.Model.Config.Has(VisionTask.Segmentation) && !table.SequenceEqual(loaded.Metadata.Classes))
            {
                loaded.Model.Dispose();
                throw new ArgumentException($"{o.InitPath} segments {Dataset.ClassTable(loaded.Metadata.Classes)} but {o.Data!.Name} has {Dataset.ClassTable(table)}; " +
                    "the sub-task stage keeps the base frozen, so train the base on this data first (--stage base)");
            }
            var missing = o.TrainedTasks.Where(t => !loaded.Model.Config.SubTasks.Contains(t)).ToList();
            if (missing.Count > 0)
            {
                loaded.Model.Dispose();
                throw new ArgumentException($"{o.InitPath} has no sub-task {missing[0].Name()} (sub-tasks: {string.Join(", ", loaded.Model.Config.SubTasks.Select(t => t.Name()))})");
            }
            return loaded;
        }
        var config = o.Stage == TrainStage.Single
            ? o.Config with { BaseTask = o.Task, SubTasks = [] }
            : o.Config with { BaseTask = VisionTask.Segmentation };
        if (o.Adapting)
        {
            return LoadForAdapting();
        }
        if (o.InitPath != null)
        {
            // A warm start keeps the file's split unless one is asked for: the auxiliary losses then run
            // through the sub-task blocks the served model will use.
            var loaded = WithDataClasses(ModelFile.Load(o.InitPath, o.SplitLayer, o.Config.RefineTasks, o.Config.RefineHidden));
            if (o.GrowBlocks == 0)
            {
                return loaded;
            }
            using (loaded.Model)
            {
                var grown = ModelGrowth.InsertBlocks(loaded.Model, o.GrowAfter, o.GrowBlocks);
                return (grown, loaded.Metadata with { Config = grown.Config });
            }
        }
        if (o.GrowBlocks > 0)
        {
            throw new ArgumentException("growing the trunk needs a trained model to grow (--init)");
        }
        string[] classes = DataClasses ?? [.. SyntheticClasses.Names];
        if (DataClasses != null)
        {
            config = config with { Classes = classes.Length };
        }
        var model = new MultiTaskVit(config);
        return (model, new ModelMetadata { Config = config, Classes = classes });
    }

    /// <summary>The model an adapting run freezes: the <see cref="TrainOptions.InitPath"/> file as it is (its class table must be the data's).</summary>
    private (MultiTaskVit Model, ModelMetadata Metadata) LoadForAdapting()
    {
        var o = _options;
        if (o.InitPath == null || o.Stage != TrainStage.Base || o.GrowBlocks > 0 || o.Resume)
        {
            throw new ArgumentException("adapting (--adapt) needs --init with a trained model, the base stage, and neither --grow nor --resume");
        }
        var loaded = ModelFile.Load(o.InitPath, o.SplitLayer);
        if (DataClasses is { } table && loaded.Model.Config.Has(VisionTask.Segmentation) && !table.SequenceEqual(loaded.Metadata.Classes))
        {
            loaded.Model.Dispose();
            throw new ArgumentException($"{o.InitPath} segments {Dataset.ClassTable(loaded.Metadata.Classes)} but {o.Data!.Name} has {Dataset.ClassTable(table)}; " +
                "an adapter keeps the base's heads' shapes, so train the base on this data instead");
        }
        return loaded;
    }

    /// <summary>An adapting run's parameters for <paramref name="task"/> (the base task): the shared adapters and its head.</summary>
    private static IEnumerable<Parameter> AdaptedTrainables(MultiTaskVit model, SharedAdapters adapters, VisionTask task)
    {
        string head = $"heads.{task.Name()}.";
        return adapters.parameters().Concat(model.named_parameters().Where(p => p.name.StartsWith(head, StringComparison.Ordinal)).Select(p => p.parameter));
    }

    /// <summary>The class table of the data trained on: the data set's, or null for the synthetic camera and data without segmentation labels.</summary>
    private string[]? DataClasses => _options.Data is { Classes.Count: > 0 } data ? [.. data.Classes] : null;

    /// <summary>
    /// A loaded model whose class table is not the data's gets a new segmentation head for the data's classes (every other
    /// weight kept; <see cref="SegmentationHead"/>), and says so: its old head's outputs mean other classes.
    /// </summary>
    private (MultiTaskVit Model, ModelMetadata Metadata) WithDataClasses((MultiTaskVit Model, ModelMetadata Metadata) loaded)
    {
        if (DataClasses is not { } table || !loaded.Model.Config.Has(VisionTask.Segmentation) || table.SequenceEqual(loaded.Metadata.Classes))
        {
            return loaded;
        }
        _log?.Invoke($"{_options.InitPath} segments {Dataset.ClassTable(loaded.Metadata.Classes)}; {_options.Data!.Name} has {Dataset.ClassTable(table)}: " +
            "the segmentation head is re-created for the data's classes (its other weights and the trunk are kept)");
        using (loaded.Model)
        {
            var model = SegmentationHead.Recreate(loaded.Model, table.Length);
            return (model, loaded.Metadata with { Config = model.Config, Classes = table });
        }
    }

    private IEnumerable<Parameter> Trainables(MultiTaskVit model, VisionTask task) => OnlyHeadsIfAsked(model, _options.Stage switch
    {
        TrainStage.SubTask => model.SubTaskTrainables(task),
        _ => model.TaskParameters(model.Config.BaseTask).Select(p => p.Parameter),
    });

    private IEnumerable<Parameter> OnlyHeadsIfAsked(MultiTaskVit model, IEnumerable<Parameter> parameters)
    {
        if (!_options.HeadsOnly)
        {
            return parameters;
        }
        var heads = model.named_parameters().Where(p => p.name.StartsWith("heads.", StringComparison.Ordinal)).Select(p => p.parameter).ToHashSet();
        return parameters.Where(heads.Contains);
    }

    private void SetLearningRate(optim.Optimizer optimizer, int step)
    {
        var o = _options;
        double lr = step < o.WarmupSteps
            ? o.LearningRate * (step + 1) / o.WarmupSteps
            : o.LearningRate * (0.05 + 0.95 * 0.5 * (1 + Math.Cos(Math.PI * (step - o.WarmupSteps) / Math.Max(1, o.Steps - o.WarmupSteps))));
        foreach (var group in optimizer.ParamGroups)
        {
            group.LearningRate = lr;
        }
    }

    private Random StepRandom(int step) => new(unchecked(_options.Seed * 7_919 + step));

    private string OptimizerStatePath => CheckpointPath + ".optim";

    private string StatePath => CheckpointPath + ".json";

    // Loss averages may be NaN (a checkpoint before the first step), which plain JSON numbers cannot hold.
    private static readonly JsonSerializerOptions StateJson = new() { NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals };

    private CheckpointState? TryResume(MultiTaskVit model)
    {
        string state = StatePath;
        if (!_options.Resume || !File.Exists(state) || !File.Exists(CheckpointPath))
        {
            return null;
        }
        var saved = JsonSerializer.Deserialize<CheckpointState>(File.ReadAllText(state), StateJson)
            ?? throw new InvalidDataException($"{state} is empty");
        if (saved.Stage != StageName || saved.Task != _options.TasksName || saved.Seed != _options.Seed)
        {
            throw new InvalidOperationException($"checkpoint {CheckpointPath} is for stage {saved.Stage}, task {saved.Task}, seed {saved.Seed}; not resuming a different run");
        }
        ModelFile.LoadWeights(CheckpointPath, model);
        return saved;
    }

    // The state file goes last: a checkpoint counts only once its weights and optimiser state are complete.
    private void SaveCheckpoint(MultiTaskVit model, ModelMetadata metadata, OptimizerHelper optimizer, CheckpointState state)
    {
        ModelFile.Save(CheckpointPath, model, metadata);
        optimizer.save_state_dict(OptimizerStatePath);
        File.WriteAllText(StatePath, JsonSerializer.Serialize(state, StateJson));
    }

    private void DeleteCheckpoint()
    {
        File.Delete(CheckpointPath);
        File.Delete(OptimizerStatePath);
        File.Delete(StatePath);
    }

    /// <summary>
    /// What a resumed run needs besides the weights and the optimiser state: the step, the loss averages
    /// and the class weights (computed from the initial pool, which the resumed run does not render).
    /// </summary>
    private sealed record CheckpointState(string Stage, string Task, int Seed, int Step,
        double EmaLoss = double.NaN, double EmaTemporal = double.NaN, float[]? ClassWeights = null);
}
