using static TorchSharp.torch;

namespace StreamMtl.Pipeline.Model;

public sealed partial class MultiTaskVit
{
    /// <summary>
    /// Attention with every query row kept current: the changed keys/values (old rows out, new rows in) are
    /// swapped into each row's running softmax sums (cost ~ 2 * 4 * N * k * d), and the changed queries'
    /// rows are recomputed in full (4 * k * N * d). Returns the attention output of every token [N, D];
    /// every row may have moved slightly, so the proj gate scores them all.
    /// </summary>
    private Tensor IncrementalAttention(Tensor qkv, GateSelection changed, Tensor? oldChanged, BlockReuseState s,
        VisionTask task, GatedPass pass, string layer)
    {
        long n = qkv.shape[0];
        int heads = Config.Heads;
        int headDim = Config.HeadDim;
        double scale = 1.0 / Math.Sqrt(headDim);
        var parts = qkv.view(1, n, 3, heads, headDim).permute(2, 0, 3, 1, 4);
        var (q, keys, values) = (parts[0], parts[1], parts[2]);
        var sums = s.Sums;
        long k = changed.Count;
        if (changed.All || !sums.IsWarm(n) || (k > 0 && oldChanged is null))
        {
            var (u, z, m) = Rows(q, keys, values, scale);
            sums.Set(u, z, m);
            pass.Flops.Attention(task, 1, heads, n, n, n, headDim);
            pass.Record(task, layer, n);
        }
        else if (k > 0)
        {
            var rows = changed.Rows!;
            var old = oldChanged!.view(k, 3, heads, headDim).permute(1, 2, 0, 3).unsqueeze(1);
            var fresh = qkv.index_select(0, rows).view(k, 3, heads, headDim).permute(1, 2, 0, 3).unsqueeze(1);
            var offset = sums.Offset!;
            // Exponents are relative to each row's max when it was last computed in full; clamped so a key
            // that became far more attractive cannot overflow before the row's next full recompute.
            var oldWeights = q.matmul(old[1].transpose(-2, -1)).mul_(Scalars.Of(scale)).sub_(offset).clamp_max_(Scalars.Of(60)).exp_();
            var newWeights = q.matmul(fresh[1].transpose(-2, -1)).mul_(Scalars.Of(scale)).sub_(offset).clamp_max_(Scalars.Of(60)).exp_();
            sums.Numerator!.PlusInPlace(newWeights.matmul(fresh[2])).sub_(oldWeights.matmul(old[2]));
            sums.Denominator!.PlusInPlace(newWeights.sum(-1, keepdim: true)).sub_(oldWeights.sum(-1, keepdim: true));
            var (u, z, m) = Rows(fresh[0], keys, values, scale);
            sums.Numerator!.index_copy_(2, rows, u);
            sums.Denominator!.index_copy_(2, rows, z);
            offset.index_copy_(2, rows, m);
            // Changed queries against all keys, plus all queries against the old and the new changed keys.
            pass.Flops.Attention(task, 1, heads, 3 * k, n, n, headDim);
            pass.Record(task, layer, k);
        }
        else
        {
            pass.Flops.Attention(task, 1, heads, 0, n, n, headDim);
            pass.Record(task, layer, 0);
        }
        return sums.Numerator!.div(sums.Denominator!).transpose(1, 2).reshape(n, Config.Dim);
    }

    private static (Tensor Numerator, Tensor Denominator, Tensor Offset) Rows(Tensor queries, Tensor keys, Tensor values, double scale)
    {
        var scores = queries.matmul(keys.transpose(-2, -1)).mul_(Scalars.Of(scale));
        var offset = scores.amax([-1], keepdim: true);
        var weights = scores.sub_(offset).exp_();
        return (weights.matmul(values), weights.sum(-1, keepdim: true), offset);
    }
}
