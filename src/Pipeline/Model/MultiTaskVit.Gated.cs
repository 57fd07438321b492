using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace StreamMtl.Pipeline.Model;

/// <summary>
/// The temporal-reuse forward pass: the same computation as <see cref="Forward"/> on one image, with every
/// token-wise stage (LN1->qkv, attention, proj, LN2->MLP, head) behind a gate that recomputes only the
/// tokens whose input moved. Works on flat token rows [N, D]. Sub-task activation sharing is not applied
/// here (each branch gates against its own previous frame instead).
/// </summary>
public sealed partial class MultiTaskVit
{
    /// <summary>Runs the gated pass; per task, the head's token outputs for every token [N, p*p*C] (gate-owned) and the rows recomputed.</summary>
    /// <param name="resumable">Tasks whose branch may be gated although it skipped the stream's previous frame (a held
    /// sub-task at a reduced compute level: its references are those of its last run, as after dropped frames).</param>
    internal Dictionary<VisionTask, GatedHeadOutput> ForwardGated(Tensor image, TaskSet tasks, ReuseState state, GatedPass pass,
        TaskSet resumable = TaskSet.None)
    {
        int p = Config.Patch;
        var shape = image.shape;
        if (shape.Length != 4 || shape[0] != 1 || shape[1] != 3 || shape[2] % p != 0 || shape[3] % p != 0 || shape[2] == 0 || shape[3] == 0)
        {
            throw new ArgumentException($"a stream frame must be [1, 3, H, W] with H, W positive multiples of {p}; got [{string.Join(", ", shape)}]", nameof(image));
        }
        int rows = (int)(shape[2] / p);
        int cols = (int)(shape[3] / p);
        long n = (long)rows * cols;
        var counter = pass.Flops;
        var result = new Dictionary<VisionTask, GatedHeadOutput>();
        var baseTask = Config.BaseTask;
        int split = Config.SplitLayer;

        var trunk = state.Trunk;
        long? previous = state.LastFrame;
        bool trunkFull = !trunk.IsWarmFor(previous);

        // The first gate looks at the pixels themselves: each patch as uncentred pixel values (the model
        // input plus mean/std, i.e. pixels / std), so a patch's relative change is its change in brightness
        // terms and sensor noise stays far below the threshold. Gating the stem's output instead would not
        // work with the hMLP stem: its per-cell LayerNorm magnifies noise in flat patches, and on a noisy
        // static camera most tokens would cross the threshold (measured: 100% recomputed, every frame a
        // scene cut). A patch that did not move keeps its embedding, so nothing after it moves either.
        var patches = _embed.Patches(image).view(n, Config.PatchInputs);
        var uncentred = _embed.Uncentred(patches);
        var embedRows = pass.Select(state.Embed, uncentred, trunkFull, baseTask, "patch_embed");
        var x0 = state.Embed.Apply(uncentred, embedRows, _embed.Embed, patches);
        _embed.CountFlops(counter, baseTask, embedRows.Count, n);
        var x = x0.Plus(_embed.Positions(rows, cols, training: false).view(n, Config.Dim));

        for (int i = 0; i < split; i++)
        {
            x = GatedBlock(x, i, null, trunk.Block(i), baseTask, pass, trunkFull);
        }
        trunk.LastFrame = pass.FrameIndex;

        foreach (var task in Config.AllTasks.Where(t => tasks.Contains(t)))
        {
            var branch = state.Branch(task);
            bool full = !branch.IsWarmFor(previous) && !(resumable.Contains(task) && branch.LastFrame is not null);
            var y = x;
            for (int i = split; i < Config.Blocks; i++)
            {
                var sub = task == baseTask ? null : _subBlocks[task][i - Config.DeltaFrom];
                y = GatedBlock(y, i, sub, branch.Block(i), task, pass, full);
            }
            result[task] = GatedHead(task, y, x0, patches, branch, pass, full);
            branch.LastFrame = pass.FrameIndex;
        }
        return result;
    }

    private Tensor GatedBlock(Tensor x, int index, SubTaskBlockWeights? sub, BlockReuseState s, VisionTask task, GatedPass pass, bool full)
    {
        // Temporaries freed per block, as in the dense pass (a keyframe computes every row of every task).
        using var scope = NewDisposeScope();
        return GatedBlockOps(x, index, sub, s, task, pass, full).MoveToOuterDisposeScope();
    }

    private Tensor GatedBlockOps(Tensor x, int index, SubTaskBlockWeights? sub, BlockReuseState s, VisionTask task, GatedPass pass, bool full)
    {
        var block = _blocks[index];
        var counter = pass.Flops;
        long n = x.shape[0];
        var norm1 = sub?.Norm1 ?? block.Norm1;
        var norm2 = sub?.Norm2 ?? block.Norm2;
        bool fold = CanFuse;

        Tensor Linear(BlockLinear which, Tensor input) => BlockLinearOutput(block, sub, which, input, fold);

        // Counted from the selection, not inside the stage: a stage that runs on no rows still owes its dense-equivalent.
        void Count(BlockLinear which, long rows) => CountBlockLinear(counter, task, block, sub, which, rows, n, fold);

        string prefix = $"blocks.{index}.";
        var qkvRows = pass.Select(s.Qkv, x, full, task, prefix + "qkv");
        bool incremental = pass.Settings.IncrementalAttention;
        // The incremental update swaps the changed tokens' old keys/values out, so read them before the scatter.
        var oldChanged = incremental && !qkvRows.All && qkvRows.Count > 0 ? s.Qkv.Output?.index_select(0, qkvRows.Rows!) : null;
        var qkv = s.Qkv.Apply(x, qkvRows, r => Linear(BlockLinear.Qkv, norm1.Apply(r)));
        Count(BlockLinear.Qkv, qkvRows.Count);
        var (attention, refreshed) = incremental
            ? (IncrementalAttention(qkv, qkvRows, oldChanged, s, task, pass, prefix + "attn"), true)
            : GatedAttention(qkv, qkvRows, s, task, pass, prefix + "attn");
        // Only the recomputed queries' attention outputs moved unless every query was refreshed, so the proj
        // gate can take the qkv gate's rows without scoring (one gate's ops fewer per block on most frames).
        var projRows = refreshed
            ? pass.Select(s.Proj, attention, full, task, prefix + "proj")
            : pass.Reuse(s.Proj, qkvRows, task, prefix + "proj");
        // Scored only when attention may be refreshed for unchanged queries; otherwise its reference is dead weight.
        bool scoresProj = pass.Settings.AttentionRefresh < 1 || incremental;
        var x1 = x.Plus(s.Proj.Apply(attention, projRows, r => Linear(BlockLinear.Proj, r), keepReference: scoresProj));
        Count(BlockLinear.Proj, projRows.Count);
        var mlpRows = pass.Select(s.Mlp, x1, full, task, prefix + "mlp");
        var mlp = s.Mlp.Apply(x1, mlpRows, r => Linear(BlockLinear.Fc2, F.gelu(Linear(BlockLinear.Fc1, norm2.Apply(r)))));
        Count(BlockLinear.Fc1, mlpRows.Count);
        Count(BlockLinear.Fc2, mlpRows.Count);
        return x1.Plus(mlp);
    }

    /// <summary>
    /// Recomputed queries attend to all current keys/values (the qkv buffer holds them for unchanged tokens
    /// too); other tokens keep their attention output unless enough keys changed to refresh every query.
    /// </summary>
    private (Tensor Attention, bool Refreshed) GatedAttention(Tensor qkv, GateSelection changed, BlockReuseState s, VisionTask task, GatedPass pass, string layer)
    {
        long n = qkv.shape[0];
        int heads = Config.Heads;
        int headDim = Config.HeadDim;
        bool refresh = changed.Count > 0 && changed.Count >= pass.Settings.AttentionRefresh * n;
        if (changed.All || refresh || s.Attention is null)
        {
            var parts = qkv.view(1, n, 3, heads, headDim).permute(2, 0, 3, 1, 4);
            var all = Autocast.Attention(parts[0], parts[1], parts[2]).transpose(1, 2).reshape(n, Config.Dim);
            s.SetAttention(all);
            pass.Flops.Attention(task, 1, heads, n, n, n, headDim);
            pass.Record(task, layer, n);
            return (s.Attention!, !changed.All);
        }
        long k = changed.Count;
        if (k > 0)
        {
            var keysValues = qkv.view(1, n, 3, heads, headDim).permute(2, 0, 3, 1, 4);
            var queries = qkv.index_select(0, changed.Rows!).view(k, 3, heads, headDim).select(1, 0).permute(1, 0, 2).unsqueeze(0);
            var fresh = Autocast.Attention(queries, keysValues[1], keysValues[2]).transpose(1, 2).reshape(k, Config.Dim);
            s.Attention.index_copy_(0, changed.Rows!, fresh);
        }
        pass.Flops.Attention(task, 1, heads, k, n, n, headDim);
        pass.Record(task, layer, k);
        return (s.Attention, false);
    }

    /// <summary>Raw head maps [1, C, H, W] from per-token head outputs [N, p*p*C].</summary>
    internal Tensor AssembleHead(VisionTask task, Tensor tokenOutputs, int rows, int cols) =>
        _heads[task].Assemble(tokenOutputs.unsqueeze(0), rows, cols);

    private GatedHeadOutput GatedHead(VisionTask task, Tensor x, Tensor x0, Tensor patches, BranchReuseState branch, GatedPass pass, bool full)
    {
        var head = _heads[task];
        var gate = branch.Head!;
        long n = x.shape[0];
        var input = cat([_norms[task].Apply(x), x0], dim: -1);
        var selection = pass.Select(gate, input, full, task, "head");
        // A refining head also reads its patch's pixels; the gate still decides on the features alone (a patch
        // whose pixels moved has moved its embedding x0, which is part of them).
        var outputs = gate.Apply(input, selection, head.TokenOutputs, head.Refines ? cat([input, patches], dim: -1) : null);
        head.CountFlops(pass.Flops, task, selection.Count, n);
        return new GatedHeadOutput(outputs, selection);
    }
}
