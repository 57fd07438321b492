using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace StreamMtl.Pipeline.Model;

/// <summary>
/// The propagated gated pass (<see cref="GatedPass.Propagates"/>): the rows the first gate picks (moved pixels plus the
/// rolling refresh's stripe) are gathered once and run as one compact matrix [k, D] through every block and head; the
/// other tokens keep every output they had. Each block keeps only every token's keys and values (what the recomputed
/// queries attend to), so a block is its dense ops on k rows plus one scatter of k rows of q, k, v.
/// </summary>
/// <remarks>
/// Why no later gate is needed: attention is never refreshed for a query whose token was not recomputed, so a token the
/// first gate holds keeps its block input, attention output and MLP output, and its input to every later gate is what it
/// was on the last frame; the gate-per-layer pass could only pick among the first gate's rows. Running them through every
/// block instead of gating them again at each stage recomputes a little more (those of the rows whose change fades below
/// the threshold deeper in the model), so the result is at least as close to dense, for about a third of the tensor ops
/// per block (docs/reuse.md). A task branch that missed the previous frame (held at a reduced compute level) has its own
/// input gate, scored against the trunk's output for every token, so it recomputes what moved while it was held.
/// </remarks>
public sealed partial class MultiTaskVit
{
    /// <summary>
    /// Runs the gated pass on one frame of each of several streams (each its own <see cref="ReuseState"/>): frames the
    /// propagated pass takes share each block's token-wise ops (their rows concatenated: one product per weight matrix
    /// for all of them), each stream keeping its own keys and values; other frames run one by one. Results in order.
    /// </summary>
    /// <remarks>At most one frame per state: the caller's to check (<see cref="Reuse.ReuseStreamRunner.RunBatch"/>).</remarks>
    internal IReadOnlyList<Dictionary<VisionTask, GatedHeadOutput>> ForwardGatedBatch(
        IReadOnlyList<(Tensor Image, TaskSet Tasks, ReuseState State, GatedPass Pass, TaskSet Resumable)> frames)
    {
        var results = new Dictionary<VisionTask, GatedHeadOutput>[frames.Count];
        var propagated = new List<(int Index, PropagatedFrame Frame)>();
        for (int i = 0; i < frames.Count; i++)
        {
            var (image, tasks, state, pass, resumable) = frames[i];
            if (!pass.Propagates)
            {
                results[i] = ForwardGated(image, tasks, state, pass, resumable);
                continue;
            }
            var (x, x0, patches, embedRows) = StartGated(image, state, pass, propagate: true);
            propagated.Add((i, new PropagatedFrame(x, x0, patches, embedRows, tasks, state, pass, resumable)));
        }
        var outputs = ForwardPropagated([.. propagated.Select(p => p.Frame)]);
        for (int j = 0; j < propagated.Count; j++)
        {
            results[propagated[j].Index] = outputs[j];
        }
        return results;
    }

    /// <summary>One stream's frame through the propagated pass: its start (<see cref="StartGated"/>) and what it carries
    /// from stage to stage.</summary>
    private sealed class PropagatedFrame
    {
        public PropagatedFrame(Tensor x, Tensor x0, Tensor patches, GateSelection embedRows, TaskSet tasks, ReuseState state, GatedPass pass,
            TaskSet resumable)
        {
            (X0, Patches, Tasks, State, Pass, Resumable, Previous) = (x0, patches, tasks, state, pass, resumable, state.LastFrame);
            Rows = pass.Keyframe || !state.Trunk.IsWarmFor(Previous) ? GateSelection.Everything(pass.TokenCount) : embedRows;
            (Selected, Current) = (Rows, Gather(x, Rows));
        }

        public Tensor X0 { get; }
        public Tensor Patches { get; }
        public TaskSet Tasks { get; }
        public ReuseState State { get; }
        public GatedPass Pass { get; }
        public TaskSet Resumable { get; }
        public long? Previous { get; }

        /// <summary>The rows the trunk runs (the first gate's, or every row).</summary>
        public GateSelection Rows { get; }

        /// <summary>The rows the current stage runs (the trunk's, or a task branch's).</summary>
        public GateSelection Selected { get; set; }

        /// <summary>Those rows' activations [k, D] at the current point.</summary>
        public Tensor Current { get; set; }

        public Tensor? TrunkRows { get; set; }

        public Tensor? TrunkOutput { get; set; }

        public Tensor? EmbeddedRows { get; set; }

        public Dictionary<VisionTask, GatedHeadOutput> Result { get; } = [];
    }

    private List<Dictionary<VisionTask, GatedHeadOutput>> ForwardPropagated(IReadOnlyList<PropagatedFrame> frames)
    {
        var baseTask = Config.BaseTask;
        for (int i = 0; i < Config.SplitLayer; i++)
        {
            PropagatedBlocks(frames, f => f.State.Trunk.Block(i), i, null, baseTask);
        }
        foreach (var f in frames)
        {
            f.State.Trunk.LastFrame = f.Pass.FrameIndex;
            f.TrunkRows = f.Current;
            f.TrunkOutput = f.State.TrunkOutput(f.Rows, f.Current);
        }

        foreach (var task in Config.AllTasks)
        {
            var running = frames.Where(f => f.Tasks.Contains(task)).ToList();
            foreach (var f in running)
            {
                (f.Selected, f.Current) = BranchStart(f, task);
                f.State.Branch(task).Input!.Remember(f.Selected, f.Current);
            }
            var sub = task == baseTask ? null : _subBlocks[task];
            for (int i = Config.SplitLayer; i < Config.Blocks; i++)
            {
                PropagatedBlocks(running, f => f.State.Branch(task).Block(i), i, sub?[i - Config.DeltaFrom], task);
            }
            foreach (var f in running)
            {
                var rows = f.Selected;
                var embedded = ReferenceEquals(rows, f.Rows) ? f.EmbeddedRows ??= Gather(f.X0, rows) : Gather(f.X0, rows);
                f.Result[task] = PropagatedHead(task, f.Current, embedded, f.Patches, rows, f.State.Branch(task), f.Pass);
                f.State.Branch(task).LastFrame = f.Pass.FrameIndex;
            }
        }
        return [.. frames.Select(f => f.Result)];
    }

    /// <summary>The rows a task branch runs this frame and their inputs: the trunk's rows when the branch ran on the previous
    /// frame; when it was held since its last run (a reduced compute level), what its own input gate sees moved in the
    /// trunk's output since then; otherwise (cold, keyframe) every row.</summary>
    private (GateSelection Rows, Tensor Input) BranchStart(PropagatedFrame f, VisionTask task)
    {
        var branch = f.State.Branch(task);
        var pass = f.Pass;
        if (!f.Rows.All && branch.IsWarmFor(f.Previous))
        {
            return (f.Rows, f.TrunkRows!);
        }
        if (!pass.Keyframe && f.Resumable.Contains(task) && branch.LastFrame is not null && branch.Input!.CanScore(pass.TokenCount))
        {
            var rows = pass.Select(branch.Input, f.TrunkOutput!, full: false, task, "input");
            return (rows, Gather(f.TrunkOutput!, rows));
        }
        return (GateSelection.Everything(pass.TokenCount), f.TrunkOutput!);
    }

    /// <summary>The selected rows of <paramref name="full"/> [N, F] in selection order (all of it when the selection is all).</summary>
    private static Tensor Gather(Tensor full, GateSelection selection) =>
        selection.Rows is { } rows ? full.index_select(0, rows) : full;

    /// <summary>
    /// One block on each frame's selected rows (<see cref="PropagatedFrame.Selected"/>, their activations
    /// <see cref="PropagatedFrame.Current"/> [k, D]): the rows of all frames go
    /// through the token-wise ops together (layer norms, the four products, GELU), and each frame's q, k, v join its own
    /// stream's keys and values, which its queries attend to. Replaces each frame's rows with their block outputs.
    /// </summary>
    private void PropagatedBlocks(IReadOnlyList<PropagatedFrame> frames, Func<PropagatedFrame, BlockReuseState> state, int index,
        SubTaskBlockWeights? sub, VisionTask task)
    {
        var block = _blocks[index];
        bool fold = CanFuse;
        string prefix = $"blocks.{index}.";
        var active = new List<(PropagatedFrame Frame, GateSelection Rows)>(frames.Count);
        foreach (var f in frames)
        {
            var selection = f.Selected;
            long n = f.Pass.TokenCount, k = selection.Count;
            f.Pass.Record(task, prefix + "qkv", k);
            f.Pass.Record(task, prefix + "attn", k);
            f.Pass.Record(task, prefix + "proj", k);
            f.Pass.Record(task, prefix + "mlp", k);
            // Counted whether or not any row runs: a stage that runs on no rows still owes its dense-equivalent.
            var counter = f.Pass.Flops;
            CountBlockLinear(counter, task, block, sub, BlockLinear.Qkv, k, n, fold);
            CountBlockLinear(counter, task, block, sub, BlockLinear.Proj, k, n, fold);
            CountBlockLinear(counter, task, block, sub, BlockLinear.Fc1, k, n, fold);
            CountBlockLinear(counter, task, block, sub, BlockLinear.Fc2, k, n, fold);
            counter.Attention(task, 1, Config.Heads, k, n, n, Config.HeadDim);
            if (k > 0)
            {
                active.Add((f, selection));
            }
        }
        if (active.Count == 0)
        {
            return;
        }
        using var scope = NewDisposeScope();
        Tensor Linear(BlockLinear which, Tensor input) => BlockLinearOutput(block, sub, which, input, fold);
        var norm1 = sub?.Norm1 ?? block.Norm1;
        var norm2 = sub?.Norm2 ?? block.Norm2;
        var x = active.Count == 1 ? active[0].Frame.Current : cat([.. active.Select(a => a.Frame.Current)], 0);
        var qkv = Linear(BlockLinear.Qkv, norm1.Apply(x));
        var attention = new List<Tensor>(active.Count);
        long offset = 0;
        foreach (var (f, selection) in active)
        {
            long k = selection.Count;
            var own = active.Count == 1 ? qkv : qkv.narrow(0, offset, k);
            offset += k;
            var (keys, values) = state(f).KeysValues(selection, own, Config.Heads, Config.HeadDim);
            var queries = own.view(1, k, 3, Config.Heads, Config.HeadDim).select(2, 0).transpose(1, 2);
            attention.Add(Autocast.Attention(queries, keys, values).transpose(1, 2).reshape(k, Config.Dim));
        }
        var x1 = x.Plus(Linear(BlockLinear.Proj, attention.Count == 1 ? attention[0] : cat(attention, 0)));
        var output = x1.Plus(Linear(BlockLinear.Fc2, F.gelu(Linear(BlockLinear.Fc1, norm2.Apply(x1)))));
        offset = 0;
        foreach (var (f, selection) in active)
        {
            f.Current = (active.Count == 1 ? output : output.narrow(0, offset, selection.Count)).MoveToOuterDisposeScope();
            offset += selection.Count;
        }
    }

    /// <summary>The head on the selected rows' features <paramref name="y"/> [k, D] and embeddings [k, D]; its outputs for
    /// every token are kept in the head's buffer, and the rows' own are handed to the canvas as they are.</summary>
    private GatedHeadOutput PropagatedHead(VisionTask task, Tensor y, Tensor embedded, Tensor patches, GateSelection selection,
        BranchReuseState branch, GatedPass pass)
    {
        var head = _heads[task];
        pass.Record(task, "head", selection.Count);
        head.CountFlops(pass.Flops, task, selection.Count, pass.TokenCount);
        var buffer = branch.Head!;
        if (selection.Count == 0)
        {
            return new GatedHeadOutput(buffer.Output ?? throw new InvalidOperationException("head is cold; run every row first"), selection);
        }
        var input = cat([_norms[task].Apply(y), embedded], dim: -1);
        var fresh = head.TokenOutputs(head.Refines ? cat([input, Gather(patches, selection)], dim: -1) : input);
        return new GatedHeadOutput(buffer.Store(selection, fresh), selection) { Fresh = fresh };
    }
}
