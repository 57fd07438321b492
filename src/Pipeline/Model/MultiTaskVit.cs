using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;
using StreamMtl.Pipeline.Model.Policy;

namespace StreamMtl.Pipeline.Model;

/// <summary>
/// Multi-task ViT with base/sub-task computation sharing (Shoouri et al., ICCV 2023). The base task runs
/// all blocks; each sub-task takes the base's activations after the split layer l and runs its own blocks
/// l+1..L with weights W_base + B*A. Tensor names follow timm (patch_embed, pos_embed, blocks.i.*, norm)
/// with sub-task parameters under tasks.NAME.* and heads under heads.NAME.*.
/// </summary>
public sealed partial class MultiTaskVit : nn.Module
{
    private readonly PatchEmbedding _embed;
    private readonly BlockWeights[] _blocks;
    private readonly Dictionary<VisionTask, NormWeights> _norms = [];
    private readonly Dictionary<VisionTask, SubTaskBlockWeights[]> _subBlocks = [];
    private readonly Dictionary<VisionTask, TokenHead> _heads = [];

    public MultiTaskVit(ModelConfig config) : base("MultiTaskVit")
    {
        var errors = config.Validate();
        if (errors.Count > 0)
        {
            throw new ArgumentException("invalid model configuration: " + string.Join("; ", errors), nameof(config));
        }
        Config = config;
        _embed = new PatchEmbedding(config);
        register_module("patch_embed", _embed.Module);
        register_parameter("pos_embed", _embed.Pos);

        _blocks = new BlockWeights[config.Blocks];
        var blockList = new List<(string, nn.Module)>();
        for (int i = 0; i < config.Blocks; i++)
        {
            _blocks[i] = new BlockWeights($"{i}", config);
            blockList.Add(($"{i}", _blocks[i]));
        }
        register_module("blocks", new Group("blocks", [.. blockList]));

        _norms[config.BaseTask] = new NormWeights("norm", config.Dim);
        register_module("norm", _norms[config.BaseTask]);

        var taskGroups = new List<(string, nn.Module)>();
        foreach (var task in config.SubTasks)
        {
            var subBlocks = new SubTaskBlockWeights[config.Blocks - config.DeltaFrom];
            var list = new List<(string, nn.Module)>();
            for (int i = config.DeltaFrom; i < config.Blocks; i++)
            {
                var sb = new SubTaskBlockWeights($"{i}", config);
                sb.InitialiseFrom(_blocks[i]);
                subBlocks[i - config.DeltaFrom] = sb;
                list.Add(($"{i}", sb));
            }
            _subBlocks[task] = subBlocks;
            _norms[task] = new NormWeights("norm", config.Dim);
            taskGroups.Add((task.Name(), new Group(task.Name(), ("blocks", new Group("blocks", [.. list])), ("norm", _norms[task]))));
        }
        if (taskGroups.Count > 0)
        {
            register_module("tasks", new Group("tasks", [.. taskGroups]));
        }

        var headList = new List<(string, nn.Module)>();
        foreach (var task in config.AllTasks)
        {
            _heads[task] = new TokenHead(task.Name(), config, task);
            headList.Add((task.Name(), _heads[task]));
        }
        register_module("heads", new Group("heads", [.. headList]));
        RegisterPolicy();
    }

    public ModelConfig Config { get; }

    /// <summary>Drops derived caches (interpolated position embeddings, folded sub-task weights); call after changing weights in place.</summary>
    public void ClearCaches()
    {
        _embed.ClearCache();
        foreach (var block in _subBlocks.Values.SelectMany(b => b))
        {
            block.ClearMerged();
        }
        foreach (var linear in modules().OfType<LinearWeights>())
        {
            linear.ClearCopies();
        }
    }

    /// <summary>
    /// Whether sub-task linears run on their folded weights W_base + B*A (<see cref="SubTaskBlockWeights.Merged"/>):
    /// in passes that cannot change the weights. Training passes keep the factors, which their gradients need.
    /// </summary>
    private bool CanFuse => !training && !is_grad_enabled();

    /// <summary>One linear of block <paramref name="block"/>, for the base task (<paramref name="sub"/> null) or a sub-task.</summary>
    private static Tensor BlockLinearOutput(BlockWeights block, SubTaskBlockWeights? sub, BlockLinear which, Tensor input, bool fold)
    {
        var w = block[which];
        if (sub == null)
        {
            return w.Apply(input);
        }
        return fold
            ? w.Apply(input, sub.Merged(which, w), () => sub.MergedBFloat16(which, w), () => sub.MergedPacked(which, w))
            : w.Apply(input).PlusInPlace(sub[which].Apply(input));
    }

    /// <summary>Counts <paramref name="rows"/> of <paramref name="denseRows"/> tokens through one linear as <see cref="BlockLinearOutput"/> runs it.</summary>
    private static void CountBlockLinear(FlopCounter counter, VisionTask task, BlockWeights block, SubTaskBlockWeights? sub,
        BlockLinear which, long rows, long denseRows, bool fold)
    {
        var w = block[which];
        counter.Linear(task, rows, denseRows, w.InFeatures, w.OutFeatures);
        if (sub != null && !fold)
        {
            var delta = sub[which];
            counter.Linear(task, rows, denseRows, delta.InFeatures, delta.Rank);
            counter.Linear(task, rows, denseRows, delta.Rank, delta.OutFeatures);
        }
    }

    /// <summary>
    /// Applies <paramref name="adapters"/> on the fly to every trunk-block linear (for every task that runs the block) until
    /// <see cref="DetachAdapters"/> or <see cref="FoldAdapters"/>; the caller keeps and disposes them.
    /// </summary>
    public void AttachAdapters(SharedAdapters adapters)
    {
        CheckFits(adapters);
        for (int i = 0; i < _blocks.Length; i++)
        {
            foreach (var which in Enum.GetValues<BlockLinear>())
            {
                _blocks[i][which].Adapter = adapters[i, which];
            }
        }
        ClearCaches();
    }

    private void CheckFits(SharedAdapters adapters)
    {
        if (adapters.Blocks != _blocks.Length || adapters[0, BlockLinear.Fc1].OutFeatures != Config.MlpDim || adapters[0, BlockLinear.Proj].InFeatures != Config.Dim)
        {
            throw new ArgumentException($"the adapters are for {adapters.Blocks} blocks of width {adapters[0, BlockLinear.Proj].InFeatures}; " +
                $"the model has {_blocks.Length} of width {Config.Dim}", nameof(adapters));
        }
    }

    /// <summary>Stops applying attached adapters: the trunk runs on its own weights again.</summary>
    public void DetachAdapters()
    {
        foreach (var block in _blocks)
        {
            foreach (var which in Enum.GetValues<BlockLinear>())
            {
                block[which].Adapter = null;
            }
        }
        ClearCaches();
    }

    /// <summary>Adds <paramref name="adapters"/> into the trunk weights (W += B*A), so they cost nothing per pass.</summary>
    public void FoldAdapters(SharedAdapters adapters)
    {
        CheckFits(adapters);
        DetachAdapters();
        using var grad = no_grad();
        using var scope = NewDisposeScope();
        for (int i = 0; i < _blocks.Length; i++)
        {
            foreach (var which in Enum.GetValues<BlockLinear>())
            {
                _blocks[i][which].Weight.PlusInPlace(adapters[i, which].Dense());
            }
        }
        ClearCaches();
    }

    /// <summary>Parameters that belong to one task alone (sub-task deltas, norms, head); for bytes-per-task reports.</summary>
    public IEnumerable<(string Name, Parameter Parameter)> TaskParameters(VisionTask task)
    {
        string head = $"heads.{task.Name()}.";
        string own = $"tasks.{task.Name()}.";
        return named_parameters().Where(p => p.name.StartsWith(head, StringComparison.Ordinal)
            || p.name.StartsWith(own, StringComparison.Ordinal)
            || (task == Config.BaseTask && !p.name.StartsWith("heads.", StringComparison.Ordinal) && !p.name.StartsWith("tasks.", StringComparison.Ordinal)
                && !p.name.StartsWith("policy.", StringComparison.Ordinal)));
    }

    /// <summary>
    /// Bytes of the parameters <paramref name="task"/> uses at its split layer: for a sub-task, its head, norm
    /// and the deltas of blocks split+1..L (the file may also hold deltas of earlier blocks, which that split
    /// never runs); for the base task, the trunk and its head.
    /// </summary>
    public long TaskBytes(VisionTask task)
    {
        var unused = UnusedDeltaPrefixes(Config, [task]);
        return TaskParameters(task)
            .Where(p => !unused.Any(prefix => p.Name.StartsWith(prefix, StringComparison.Ordinal)))
            .Sum(p => p.Parameter.numel() * p.Parameter.element_size());
    }

    /// <summary>
    /// Name prefixes of the sub-task blocks the weights hold but the split layer never runs (blocks
    /// DeltaFrom+1..split of each of <paramref name="tasks"/>); empty when delta_from equals the split.
    /// </summary>
    public static IReadOnlyList<string> UnusedDeltaPrefixes(ModelConfig config, IEnumerable<VisionTask> tasks) =>
        Enumerable.Range(config.DeltaFrom, Math.Max(0, config.SplitLayer - config.DeltaFrom))
            .SelectMany(i => tasks.Select(t => $"tasks.{t.Name()}.blocks.{i}.")).ToList();

    /// <summary>Multiply-adds x2 of <paramref name="task"/>'s head for one token (its two linears).</summary>
    public long HeadFlopsPerToken(VisionTask task) => _heads[task].FlopsPerToken;

    /// <summary>Trainable parameters of a sub-task (deltas, norms, head) with the base frozen.</summary>
    public IEnumerable<Parameter> SubTaskTrainables(VisionTask task) =>
        TaskParameters(task).Where(_ => task != Config.BaseTask).Select(p => p.Parameter);

    /// <summary>Runs the model on normalised images [B, 3, H, W] (H, W multiples of the patch size).</summary>
    public ForwardResult Forward(Tensor images, ForwardOptions options, FlopCounter? flops = null)
    {
        var shape = images.shape;
        int p = Config.Patch;
        if (shape.Length != 4 || shape[1] != 3 || shape[2] % p != 0 || shape[3] % p != 0 || shape[2] == 0 || shape[3] == 0)
        {
            throw new ArgumentException($"images must be [B, 3, H, W] with H, W positive multiples of {p}; got [{string.Join(", ", shape)}]", nameof(images));
        }
        int split = options.SplitLayer ?? Config.SplitLayer;
        if (split < Config.DeltaFrom || split > Config.Blocks)
        {
            throw new ArgumentOutOfRangeException(nameof(options), $"split layer {split} must be in {Config.DeltaFrom}..{Config.Blocks} for this model");
        }
        var result = new ForwardResult(flops ?? new FlopCounter());
        var counter = result.Flops;
        int rows = (int)(shape[2] / p);
        int cols = (int)(shape[3] / p);
        long tokens = shape[0] * rows * cols;
        var baseTask = Config.BaseTask;

        var x0 = _embed.EmbedImage(images);
        _embed.CountFlops(counter, baseTask, tokens, tokens);
        var positions = options.GridOffset is { } offset
            ? _embed.WindowPositions(offset.Row, offset.Col, rows, cols)
            : _embed.Positions(rows, cols, training);
        var x = x0.Plus(positions);

        void Keep(VisionTask task, Tensor output)
        {
            if (options.KeepBlockOutputs)
            {
                result.KeepBlockOutput(task, output);
            }
        }

        var schedule = Schedule(x0, options, split, (long)rows * cols, counter);
        result.Executed = schedule?.Plan;
        result.UnitScores = schedule?.Scores;
        for (int i = 0; i < split; i++)
        {
            int block = i;
            x = RunUnit(x, block, schedule, h => DenseBlock(h, block, null, null, baseTask, counter, options.Fused), baseTask, counter);
            Keep(baseTask, x);
        }
        var atSplit = x;

        var subTasks = Config.SubTasks.Where(t => options.Tasks.Contains(t)).ToList();
        bool share = options.ShareThreshold > 0 && subTasks.Count > 0;
        bool runBase = options.Tasks.Contains(baseTask) || share;
        BlockTrace?[] traces = new BlockTrace?[Config.Blocks];
        if (runBase)
        {
            for (int i = split; i < Config.Blocks; i++)
            {
                traces[i] = share ? new BlockTrace() : null;
                int block = i;
                x = RunUnit(x, block, schedule, h => DenseBlock(h, block, null, traces[block], baseTask, counter, options.Fused), baseTask, counter);
                Keep(baseTask, x);
            }
            if (options.Tasks.Contains(baseTask))
            {
                result.Set(baseTask, RunHead(baseTask, x, x0, images, rows, cols, counter));
            }
        }

        foreach (var task in subTasks)
        {
            var y = atSplit;
            var own = _subBlocks[task];
            for (int i = split; i < Config.Blocks; i++)
            {
                var sub = own[i - Config.DeltaFrom];
                int block = i;
                y = share ? SharedBlock(y, i, sub, traces[i]!, options.ShareThreshold, task, counter, result)
                          : RunUnit(y, ComputeUnits.IndexOf(Config, block, task), schedule,
                              h => DenseBlock(h, block, sub, null, task, counter, options.Fused), task, counter);
                Keep(task, y);
            }
            result.Set(task, RunHead(task, y, x0, images, rows, cols, counter));
        }
        return result;
    }

    private Tensor RunHead(VisionTask task, Tensor x, Tensor x0, Tensor images, int rows, int cols, FlopCounter counter)
    {
        using var scope = NewDisposeScope();
        var head = _heads[task];
        long tokens = x.shape[0] * x.shape[1];
        Tensor[] parts = head.Refines ? [_norms[task].Apply(x), x0, _embed.Patches(images)] : [_norms[task].Apply(x), x0];
        var input = cat(parts, dim: -1);
        var outputs = head.TokenOutputs(input);
        head.CountFlops(counter, task, tokens, tokens);
        return head.Assemble(outputs, rows, cols).MoveToOuterDisposeScope();
    }

    private Tensor DenseBlock(Tensor x, int index, SubTaskBlockWeights? sub, BlockTrace? trace, VisionTask task, FlopCounter counter, bool fused)
    {
        if (trace == null)
        {
            // A block's temporaries (about 4 MB at 320x240) are freed when it ends rather than with the whole pass: a
            // three-task pass otherwise holds more than glibc keeps in its heap, and pays page faults for fresh
            // memory on every frame (measured: ~3600 minor faults per pass at 320x240, a few hundred with per-block scopes).
            using var scope = NewDisposeScope();
            return DenseBlockOps(x, index, sub, null, task, counter, fused).MoveToOuterDisposeScope();
        }
        return DenseBlockOps(x, index, sub, trace, task, counter, fused);
    }

    private Tensor DenseBlockOps(Tensor x, int index, SubTaskBlockWeights? sub, BlockTrace? trace, VisionTask task, FlopCounter counter, bool fused)
    {
        var block = _blocks[index];
        long tokens = x.shape[0] * x.shape[1];
        bool fold = fused && CanFuse;

        Tensor Linear(BlockLinear which, Tensor input)
        {
            var output = BlockLinearOutput(block, sub, which, input, fold);
            CountBlockLinear(counter, task, block, sub, which, tokens, tokens, fold);
            trace?.Record(which, input, output);
            return output;
        }

        var h = (sub?.Norm1 ?? block.Norm1).Apply(x);
        var attention = Attend(Linear(BlockLinear.Qkv, h), task, counter);
        x = x.Plus(Linear(BlockLinear.Proj, attention));
        var h2 = (sub?.Norm2 ?? block.Norm2).Apply(x);
        var g = F.gelu(Linear(BlockLinear.Fc1, h2));
        return x.Plus(Linear(BlockLinear.Fc2, g));
    }

    private Tensor SharedBlock(Tensor x, int index, SubTaskBlockWeights sub, BlockTrace trace, float threshold,
        VisionTask task, FlopCounter counter, ForwardResult result)
    {
        var block = _blocks[index];

        Tensor Linear(BlockLinear which, Tensor input) =>
            SharedLinear(input, trace.Input(which), trace.Output(which), block[which], sub[which], threshold, task, counter, result);

        var h = sub.Norm1.Apply(x);
        var attention = Attend(Linear(BlockLinear.Qkv, h), task, counter);
        x = x.Plus(Linear(BlockLinear.Proj, attention));
        var h2 = sub.Norm2.Apply(x);
        var g = F.gelu(Linear(BlockLinear.Fc1, h2));
        return x.Plus(Linear(BlockLinear.Fc2, g));
    }

    /// <summary>
    /// (W_base + BA) x where the W_base x term is taken from the base's output for tokens whose input is
    /// within the threshold of the base's input (relative L2), and computed only for the others.
    /// </summary>
    private static Tensor SharedLinear(Tensor input, Tensor baseInput, Tensor baseOutput, LinearWeights w, LowRankDelta delta,
        float threshold, VisionTask task, FlopCounter counter, ForwardResult result)
    {
        long b = input.shape[0];
        long n = input.shape[1];
        long tokens = b * n;
        var flatIn = input.reshape(tokens, w.InFeatures);
        var flatBase = baseInput.reshape(tokens, w.InFeatures);
        var score = flatIn.sub(flatBase).norm(1, keepdim: false).div_(flatBase.norm(1, keepdim: false).PlusInPlace(1e-6));
        counter.Overhead(task, 5 * tokens * w.InFeatures);
        var changed = score.gt(Scalars.Of(threshold)).nonzero().flatten();
        long computed = changed.shape[0];

        var output = baseOutput.reshape(tokens, w.OutFeatures);
        if (computed > 0)
        {
            var fresh = w.Apply(flatIn.index_select(0, changed));
            output = output.index_copy(0, changed, fresh);
        }
        counter.Linear(task, computed, tokens, w.InFeatures, w.OutFeatures);
        output = output.Plus(delta.Apply(flatIn));
        counter.Linear(task, tokens, tokens, delta.InFeatures, delta.Rank);
        counter.Linear(task, tokens, tokens, delta.Rank, delta.OutFeatures);
        result.SharedRowsComputed += computed;
        result.SharedRowsTotal += tokens;
        return output.view(b, n, w.OutFeatures);
    }

    private Tensor Attend(Tensor qkv, VisionTask task, FlopCounter counter)
    {
        long b = qkv.shape[0];
        long n = qkv.shape[1];
        var parts = qkv.view(b, n, 3, Config.Heads, Config.HeadDim).permute(2, 0, 3, 1, 4);
        var attended = Autocast.Attention(parts[0], parts[1], parts[2]);
        counter.Attention(task, b, Config.Heads, n, n, n, Config.HeadDim);
        return attended.transpose(1, 2).reshape(b, n, Config.Dim);
    }
}
