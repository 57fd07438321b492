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
    private Dictionary<VisionTask, GatedHeadOutput> ForwardPropagated(Tensor x, Tensor x0, Tensor patches, GateSelection embedRows,
        TaskSet tasks, ReuseState state, GatedPass pass, TaskSet resumable, long? previous)
    {
        var result = new Dictionary<VisionTask, GatedHeadOutput>();
        var baseTask = Config.BaseTask;
        var trunk = state.Trunk;
        var rows = pass.Keyframe || !trunk.IsWarmFor(previous) ? GateSelection.Everything(pass.TokenCount) : embedRows;

        var trunkRows = Gather(x, rows);
        for (int i = 0; i < Config.SplitLayer; i++)
        {
            trunkRows = PropagatedBlock(trunkRows, rows, i, null, trunk.Block(i), baseTask, pass);
        }
        trunk.LastFrame = pass.FrameIndex;
        var trunkOutput = state.TrunkOutput(rows, trunkRows);

        Tensor? x0Rows = null;
        foreach (var task in Config.AllTasks.Where(t => tasks.Contains(t)))
        {
            var branch = state.Branch(task);
            var input = branch.Input!;
            GateSelection branchRows;
            Tensor y;
            if (!rows.All && branch.IsWarmFor(previous))
            {
                // Ran on the previous frame: what moved since is what the trunk recomputed.
                (branchRows, y) = (rows, trunkRows);
            }
            else if (!pass.Keyframe && resumable.Contains(task) && branch.LastFrame is not null && input.CanScore(pass.TokenCount))
            {
                // Held since its last run: what moved since then, as its own gate sees the trunk's output.
                branchRows = pass.Select(input, trunkOutput, full: false, task, "input");
                y = Gather(trunkOutput, branchRows);
            }
            else
            {
                (branchRows, y) = (GateSelection.Everything(pass.TokenCount), trunkOutput);
            }
            input.Remember(branchRows, y);
            for (int i = Config.SplitLayer; i < Config.Blocks; i++)
            {
                var sub = task == baseTask ? null : _subBlocks[task][i - Config.DeltaFrom];
                y = PropagatedBlock(y, branchRows, i, sub, branch.Block(i), task, pass);
            }
            var embedded = ReferenceEquals(branchRows, rows) ? x0Rows ??= Gather(x0, rows) : Gather(x0, branchRows);
            result[task] = PropagatedHead(task, y, embedded, patches, branchRows, branch, pass);
            branch.LastFrame = pass.FrameIndex;
        }
        return result;
    }

    /// <summary>The selected rows of <paramref name="full"/> [N, F] in selection order (all of it when the selection is all).</summary>
    private static Tensor Gather(Tensor full, GateSelection selection) =>
        selection.Rows is { } rows ? full.index_select(0, rows) : full;

    /// <summary>One block on the selected rows [k, D]: their q, k, v join every token's keys and values, their queries
    /// attend to all of them, and the rest of the block is token-wise. Returns the rows' block outputs [k, D].</summary>
    private Tensor PropagatedBlock(Tensor x, GateSelection selection, int index, SubTaskBlockWeights? sub, BlockReuseState s,
        VisionTask task, GatedPass pass)
    {
        var block = _blocks[index];
        long n = pass.TokenCount;
        long k = selection.Count;
        bool fold = CanFuse;
        string prefix = $"blocks.{index}.";
        pass.Record(task, prefix + "qkv", k);
        pass.Record(task, prefix + "attn", k);
        pass.Record(task, prefix + "proj", k);
        pass.Record(task, prefix + "mlp", k);
        // Counted whether or not any row runs: a stage that runs on no rows still owes its dense-equivalent.
        CountBlockLinear(pass.Flops, task, block, sub, BlockLinear.Qkv, k, n, fold);
        CountBlockLinear(pass.Flops, task, block, sub, BlockLinear.Proj, k, n, fold);
        CountBlockLinear(pass.Flops, task, block, sub, BlockLinear.Fc1, k, n, fold);
        CountBlockLinear(pass.Flops, task, block, sub, BlockLinear.Fc2, k, n, fold);
        pass.Flops.Attention(task, 1, Config.Heads, k, n, n, Config.HeadDim);
        if (k == 0)
        {
            return x;
        }
        using var scope = NewDisposeScope();
        Tensor Linear(BlockLinear which, Tensor input) => BlockLinearOutput(block, sub, which, input, fold);
        var norm1 = sub?.Norm1 ?? block.Norm1;
        var norm2 = sub?.Norm2 ?? block.Norm2;
        var qkv = Linear(BlockLinear.Qkv, norm1.Apply(x));
        var (keys, values) = s.KeysValues(selection, qkv, Config.Heads, Config.HeadDim);
        var queries = qkv.view(1, k, 3, Config.Heads, Config.HeadDim).select(2, 0).transpose(1, 2);
        var attention = Autocast.Attention(queries, keys, values).transpose(1, 2).reshape(k, Config.Dim);
        var x1 = x.Plus(Linear(BlockLinear.Proj, attention));
        return x1.Plus(Linear(BlockLinear.Fc2, F.gelu(Linear(BlockLinear.Fc1, norm2.Apply(x1))))).MoveToOuterDisposeScope();
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
