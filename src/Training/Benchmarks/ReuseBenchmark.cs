using StreamMtl.Pipeline.Results;
using StreamMtl.Pipeline.Runners;
using System.Diagnostics;
using StreamMtl.Training.Evaluation;
using StreamMtl.Pipeline.Model;
using StreamMtl.Pipeline.Reuse;
using static TorchSharp.torch;

namespace StreamMtl.Training.Benchmarks;

/// <summary>
/// Runs the same frames through a dense runner and one reuse runner per setting in one process,
/// interleaved frame by frame (so machine noise and the background load hit all alike), and compares
/// cost and outputs. The first <see cref="WarmupFrames"/> frames are run but not timed. With
/// <c>withBFloat16</c> each setting also runs a second time with bfloat16 matrix products (<see cref="Autocast"/>),
/// against the same float32 dense reference: the fidelity and speed of Model:Precision=bfloat16 beside float32's. With
/// <c>withLibtorchProducts</c> each setting also runs with every product through libtorch (Model:PackedProducts=false),
/// beside the packed products (<see cref="PackedLinear"/>).
/// </summary>
public static class ReuseBenchmark
{
    public const int WarmupFrames = 3;

    public static IReadOnlyList<ReuseBenchmarkRow> Run(MultiTaskVit model, IReadOnlyList<BenchFrame> frames, int width, int height,
        IReadOnlyList<ReuseSettings> settings, TaskSet tasks = TaskSet.All, Action<string>? log = null, bool withBFloat16 = false,
        bool withLibtorchProducts = false)
    {
        var config = model.Config;
        using var dense = new DenseStreamRunner(model);
        ProductKind[] kinds = [ProductKind.Default, .. withBFloat16 ? [ProductKind.BFloat16] : Array.Empty<ProductKind>(),
            .. withLibtorchProducts ? [ProductKind.Libtorch] : Array.Empty<ProductKind>()];
        var variants = (from s in settings from kind in kinds select (Setting: s, Products: kind)).ToList();
        bool packed = PackedLinear.Enabled;
        var runners = variants.Select(v => new ReuseStreamRunner(model, v.Setting)).ToList();
        var denseTally = new Tally(model);
        var tallies = variants.Select(_ => new Tally(model)).ToList();
        try
        {
            for (int f = 0; f < frames.Count; f++)
            {
                var frame = frames[f];
                using var input = ImageTensors.FromBgr(frame.Bgr, width, height, config);
                bool timed = f >= WarmupFrames;
                var reference = denseTally.Add(dense.Run, input, frame, timed, null);
                for (int r = 0; r < runners.Count; r++)
                {
                    using (Autocast.BFloat16(variants[r].Products == ProductKind.BFloat16))
                    {
                        PackedLinear.Enabled = packed && variants[r].Products != ProductKind.Libtorch;
                        var (runner, level) = (runners[r], variants[r].Setting.Level);
                        tallies[r].Add((x, index, tasks) => runner.Run(x, index, tasks, level), input, frame, timed, reference);
                    }
                }
                if (log != null && (f + 1) % 50 == 0)
                {
                    log($"  {f + 1}/{frames.Count} frames");
                }
            }
        }
        finally
        {
            PackedLinear.Enabled = packed;
            runners.ForEach(r => r.Dispose());
        }
        return variants.Select((v, i) => tallies[i].Row(v.Setting, denseTally, v.Products)).ToList();
    }

    /// <summary>Running totals of one runner over the frames.</summary>
    private sealed class Tally(MultiTaskVit model)
    {
        private readonly ModelConfig _config = model.Config;
        private readonly SegmentationAgreement _seg = new();
        private readonly FrameToFrame _frameToFrame = new();
        private readonly DepthAgreement _depth = new();
        private readonly NormalsAgreement _normals = new();
        private readonly SegmentationMetrics _segTruth = new(model.Config.Classes);
        private readonly DepthMetrics _depthTruth = new();
        private readonly NormalsMetrics _normalsTruth = new();
        private readonly List<double> _frameMs = [];
        private double _dense;
        private double _executed;
        private double _denseHeads;
        private double _executedHeads;
        private long _recomputed;
        private long _tokens;
        private int _keyframes;
        private bool _hasTruth;

        public Predictions Add(Func<Tensor, long, TaskSet, FrameAnalysis> run, Tensor input, BenchFrame frame, bool timed, Predictions? reference)
        {
            var clock = Stopwatch.StartNew();
            var analysis = run(input, frame.Index, TaskSet.All);
            clock.Stop();
            if (timed)
            {
                _frameMs.Add(clock.Elapsed.TotalMilliseconds);
            }
            var a = analysis.Accounting;
            _dense += a.DenseTotal;
            _executed += a.ExecutedTotal;
            foreach (var layer in a.Tokens)
            {
                _recomputed += layer.Recomputed;
                _tokens += layer.Total;
                if (layer.Layer == "head")
                {
                    double perToken = model.HeadFlopsPerToken(layer.Task);
                    _executedHeads += layer.Recomputed * perToken;
                    _denseHeads += layer.Total * perToken;
                }
            }
            if (reference == null)
            {
                // The dense runner reports no gated layers: its heads ran on every token.
                long n = (long)(frame.Bgr.Length / 3) / (_config.Patch * _config.Patch);
                foreach (var task in a.DenseFlops.Keys)
                {
                    _executedHeads += n * model.HeadFlopsPerToken(task);
                    _denseHeads += n * model.HeadFlopsPerToken(task);
                }
            }
            _keyframes += a.Keyframe ? 1 : 0;
            var o = analysis.Outputs;
            if (reference == null)
            {
                _frameToFrame.Add(o); // only the dense runner's is reported
            }
            else
            {
                if (o.Labels != null && reference.Labels != null) _seg.Add(o.Labels, reference.Labels);
                if (o.Depth != null && reference.Depth != null) _depth.Add(o.Depth, reference.Depth);
                if (o.Normals != null && reference.Normals != null) _normals.Add(o.Normals, reference.Normals);
            }
            if (frame.Truth is { } truth)
            {
                _hasTruth = true;
                if (o.Labels != null) _segTruth.Add(o.Labels, truth.Labels);
                if (o.Depth != null) _depthTruth.Add(o.Depth, truth.Depth);
                if (o.Normals != null) _normalsTruth.Add(o.Normals, truth.Normals);
            }
            return o;
        }

        public double MsPerFrame => _frameMs.Count == 0 ? double.NaN : _frameMs.Average();

        public TruthScores? Truth => _hasTruth ? new TruthScores(_segTruth.MeanIoU, _depthTruth.AbsRel, _normalsTruth.MeanDeg) : null;

        public ReuseBenchmarkRow Row(ReuseSettings s, Tally dense, ProductKind products) => new(
            $"t={s.Threshold:G3} b={s.Budget:G3} r={s.AttentionRefresh:G3} K={s.KeyframeInterval}{(s.RollingRefresh ? " rolling" : "")}{(s.IncrementalAttention ? " inc" : "")}{(s.GateEveryLayer ? " every" : "")}{products switch { ProductKind.BFloat16 => " bf16", ProductKind.Libtorch => " libtorch", _ => "" }}{(s.Level != ComputeLevel.Full ? " " + ComputeLevels.Name(s.Level) : "")}{(s.ComputeBudget < 1 ? $" X={s.ComputeBudget:G3}" : "")}{(s.FullKeyframes ? " fullK" : "")}",
            s.Threshold, s.Budget, s.AttentionRefresh,
            FlopsRatio: _dense / _executed,
            EncoderFlopsRatio: (_dense - _denseHeads) / (_executed - _executedHeads),
            DenseMsPerFrame: dense.MsPerFrame,
            ReuseMsPerFrame: MsPerFrame,
            ReuseMs: Percentiles.Of(_frameMs),
            SpeedUp: dense.MsPerFrame / MsPerFrame,
            RecomputedFraction: _tokens == 0 ? 1 : (double)_recomputed / _tokens,
            Keyframes: _keyframes,
            SegmentationAgreement: _seg.Fraction,
            DepthMeanRelativeDifference: _depth.MeanRelativeDifference,
            NormalsMeanAngleDeg: _normals.MeanAngleDeg,
            DenseTruth: dense.Truth,
            ReuseTruth: Truth,
            DenseFrameToFrameAgreement: dense._frameToFrame.Labels.Fraction,
            DenseFrameToFrameDepth: dense._frameToFrame.Depth.MeanRelativeDifference,
            DenseFrameToFrameNormalsDeg: dense._frameToFrame.Normals.MeanAngleDeg);
    }

    /// <summary>Each output against the same runner's output on the previous frame.</summary>
    private sealed class FrameToFrame
    {
        private Predictions? _previous;

        public SegmentationAgreement Labels { get; } = new();
        public DepthAgreement Depth { get; } = new();
        public NormalsAgreement Normals { get; } = new();

        public void Add(Predictions o)
        {
            if (_previous is { } p)
            {
                if (o.Labels != null && p.Labels != null) Labels.Add(o.Labels, p.Labels);
                if (o.Depth != null && p.Depth != null) Depth.Add(o.Depth, p.Depth);
                if (o.Normals != null && p.Normals != null) Normals.Add(o.Normals, p.Normals);
            }
            _previous = o;
        }
    }
}

/// <summary>How a benchmarked variant's matrix products run.</summary>
public enum ProductKind
{
    /// <summary>float32, few-row products on packed weights where they apply (the service's default).</summary>
    Default,

    /// <summary>bfloat16 products (Model:Precision=bfloat16).</summary>
    BFloat16,

    /// <summary>float32, every product through libtorch (Model:PackedProducts=false).</summary>
    Libtorch,
}
