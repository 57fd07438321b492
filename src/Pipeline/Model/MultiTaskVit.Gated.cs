using StreamMtl.Pipeline.Model.Policy;
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
    /// <param name="units">The units to run (<see cref="Policy.ComputeUnits"/>); null: the policy chooses them after the
    /// patch embedding when <see cref="GatedPass.ComputeBudget"/> is below 1, else every unit runs. The set run is in
    /// <see cref="GatedPass.Units"/>.</param>
    /// <remarks>
    /// A skipped unit is the identity on the residual stream for this frame (a skipped trunk block at or below the split is
    /// skipped for every task), and its reuse state (gate references, buffers, attention) is left as it was: the next time
    /// it runs it is gated against its old references, as after dropped frames. Each block and head remembers which units
    /// ran upstream of it at its last run; when that differs from this frame's, its inputs are not comparable with its
    /// references, so it recomputes every token once.
    /// </remarks>
    internal Dictionary<VisionTask, GatedHeadOutput> ForwardGated(Tensor image, TaskSet tasks, ReuseState state, GatedPass pass,
        TaskSet resumable = TaskSet.None, GatedUnits? units = null)
    {
        bool propagate = pass.Propagates && units is null;
        var (x, x0, patches, embedRows) = StartGated(image, state, pass, propagate);
        if (propagate)
        {
            return ForwardPropagated([new PropagatedFrame(x, x0, patches, embedRows, tasks, state, pass, resumable)])[0];
        }
        int p = Config.Patch;
        long n = image.shape[2] / p * (image.shape[3] / p);
        var counter = pass.Flops;
        var result = new Dictionary<VisionTask, GatedHeadOutput>();
        var baseTask = Config.BaseTask;
        int split = Config.SplitLayer;
        var trunk = state.Trunk;
        long? previous = state.LastFrame;
        bool trunkFull = !trunk.IsWarmFor(previous);
        units ??= ChooseGatedUnits(x0, tasks, n, pass);
        if (units != null && units.Runs.Count != Units.Count)
        {
            throw new ArgumentException($"the unit set has {units.Runs.Count} units; this model has {Units.Count}", nameof(units));
        }
        if (units != null && Units.Count > 64)
        {
            // The upstream masks below hold one bit per unit.
            throw new NotSupportedException($"skipping units in the gated pass supports at most 64 units; this model has {Units.Count}");
        }
        pass.Units = units;

        // Bit u set: unit u ran upstream of the current point on this frame's path.
        long upstream = 0;
        for (int i = 0; i < split; i++)
        {
            if (RunsGated(units, i, baseTask, n, pass))
            {
                x = GatedBlock(x, i, null, trunk.Block(i), baseTask, pass, trunkFull, upstream);
                upstream |= 1L << i;
            }
        }
        trunk.LastFrame = pass.FrameIndex;

        foreach (var task in Config.AllTasks.Where(t => tasks.Contains(t)))
        {
            var branch = state.Branch(task);
            bool full = !branch.IsWarmFor(previous) && !(resumable.Contains(task) && branch.LastFrame is not null);
            var y = x;
            long path = upstream;
            for (int i = split; i < Config.Blocks; i++)
            {
                int unit = ComputeUnits.IndexOf(Config, i, task == baseTask ? null : (VisionTask?)task);
                if (RunsGated(units, unit, task, n, pass))
                {
                    var sub = task == baseTask ? null : _subBlocks[task][i - Config.DeltaFrom];
                    y = GatedBlock(y, i, sub, branch.Block(i), task, pass, full, path);
                    path |= 1L << unit;
                }
            }
            bool headFull = full || (branch.HeadUpstream is long last && last != path);
            branch.HeadUpstream = path;
            result[task] = GatedHead(task, y, x0, patches, branch, pass, headFull);
            branch.LastFrame = pass.FrameIndex;
        }
        return result;
    }

    /// <summary>
    /// What both gated passes start with: checks the frame, starts the state over when it holds the other pass's buffers,
    /// and runs the first gate (the pixel gate) and the patch embedding of the rows it picks. Returns the block input for
    /// every token [N, D] (embeddings plus positions), the embeddings [N, D], the patches [N, 3*p*p] and the gate's rows.
    /// </summary>
    private (Tensor X, Tensor X0, Tensor Patches, GateSelection EmbedRows) StartGated(Tensor image, ReuseState state, GatedPass pass, bool propagate)
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
        // The two passes keep different buffers: a frame of the other kind than the state's starts every gate over.
        if (state.Propagated is bool was && was != propagate)
        {
            state.Cool();
            pass.MarkKeyframe("mode");
        }
        state.Propagated = propagate;
        pass.PrepareStripe();
        bool trunkFull = !state.Trunk.IsWarmFor(state.LastFrame);
        // The first gate looks at the pixels themselves: each patch as uncentred pixel values (the model
        // input plus mean/std, i.e. pixels / std), so a patch's relative change is its change in brightness
        // terms and sensor noise stays far below the threshold. Gating the stem's output instead would not
        // work with the hMLP stem: its per-cell LayerNorm magnifies noise in flat patches, and on a noisy
        // static camera most tokens would cross the threshold (measured: 100% recomputed, every frame a
        // scene cut). A patch that did not move keeps its embedding, so nothing after it moves either.
        var patches = _embed.Patches(image).view(n, Config.PatchInputs);
        var uncentred = _embed.Uncentred(patches);
        var embedRows = pass.Select(state.Embed, uncentred, trunkFull, Config.BaseTask, "patch_embed");
        var x0 = state.Embed.Apply(uncentred, embedRows, _embed.Embed, patches);
        _embed.CountFlops(pass.Flops, Config.BaseTask, embedRows.Count, n);
        var x = x0.Plus(_embed.Positions(rows, cols, training: false).view(n, Config.Dim));
        return (x, x0, patches, embedRows);
    }

    /// <summary>
    /// Whether unit <paramref name="unit"/> runs this frame; a skipped one's dense-equivalent FLOPs are counted (executed:
    /// none) and its state is not touched.
    /// </summary>
    private bool RunsGated(GatedUnits? units, int unit, VisionTask task, long tokens, GatedPass pass)
    {
        if (units is null || units.Run(unit))
        {
            return true;
        }
        pass.Flops.Skipped(task, UnitCost(unit, tokens, CanFuse));
        return false;
    }

    /// <summary>
    /// The policy's units for this frame at <see cref="GatedPass.ComputeBudget"/>: null (every unit) at budget 1 and, with
    /// <see cref="ReuseSettings.FullKeyframes"/>, on keyframes. Decided on the patch embeddings after the first gate.
    /// </summary>
    private GatedUnits? ChooseGatedUnits(Tensor x0, TaskSet tasks, long tokens, GatedPass pass)
    {
        double budget = pass.ComputeBudget;
        if (budget >= 1 || (pass.Keyframe && pass.Settings.FullKeyframes))
        {
            return null;
        }
        var policy = _policy ?? throw new InvalidOperationException("this model has no compute policy: a compute budget below 1 needs one (a model trained with `streammtl train --stage policy`)");
        var key = (tokens, tasks);
        if (_gatedCosts is not { } cached || cached.Key != key)
        {
            _gatedCosts = cached = (key, UnitCosts(tokens, tasks, CanFuse));
        }
        var costs = cached.Costs;
        float[] scores;
        using (var scope = NewDisposeScope())
        {
            var targets = tensor(new[] { (float)budget }, device: x0.device);
            scores = policy.Logits(x0.unsqueeze(0), targets).to(ScalarType.Float32).cpu().data<float>().ToArray();
        }
        pass.Flops.Overhead(Config.BaseTask, policy.Flops(tokens));
        return new GatedUnits(Budget.Choose(scores, costs.Costs, costs.Candidates, costs.Available(budget)), budget);
    }

    private ((long Tokens, TaskSet Tasks) Key, UnitCosts Costs)? _gatedCosts;

    private Tensor GatedBlock(Tensor x, int index, SubTaskBlockWeights? sub, BlockReuseState s, VisionTask task, GatedPass pass, bool full, long upstream)
    {
        // A block whose upstream ran differently at its last run sees inputs its references do not describe: all rows once.
        full |= s.Upstream is long last && last != upstream;
        s.Upstream = upstream;
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
        bool scoresAfterAttention = pass.Settings.AttentionRefresh < 1 || incremental;
        var x1 = x.Plus(s.Proj.Apply(attention, projRows, r => Linear(BlockLinear.Proj, r), keepReference: scoresAfterAttention));
        Count(BlockLinear.Proj, projRows.Count);
        // When attention is never refreshed, a row the qkv gate held keeps its attention and proj outputs, so its MLP input
        // x1 = x + proj(attention) has moved exactly as much as its block input x since its last recompute (which is also
        // the MLP's), and the qkv gate has just measured that. The MLP gate then takes the qkv gate's rows and keeps no
        // reference: one scored gate per block instead of two, ~10 tensor ops fewer per block and frame.
        var mlpRows = scoresAfterAttention
            ? pass.Select(s.Mlp, x1, full, task, prefix + "mlp")
            : pass.Reuse(s.Mlp, qkvRows, task, prefix + "mlp");
        var mlp = s.Mlp.Apply(x1, mlpRows, r => Linear(BlockLinear.Fc2, F.gelu(Linear(BlockLinear.Fc1, norm2.Apply(r)))),
            keepReference: scoresAfterAttention);
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
