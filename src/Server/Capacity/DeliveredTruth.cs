using OpenCvSharp;
using StreamMtl.Api.V1;
using StreamMtl.Ingest.Frames;
using StreamMtl.Ingest.Synthetic;
using StreamMtl.Server.Service;
using StreamMtl.Training.Benchmarks;
using StreamMtl.Training.Evaluation;
using ApiTask = StreamMtl.Api.V1.Task;

namespace StreamMtl.Server.Capacity;

/// <summary>A result a subscriber received: the frame it answers and its outputs as they came over the wire.</summary>
public sealed record KeptResult(long FrameIndex, IReadOnlyList<TaskOutput> Outputs);

/// <summary>
/// What a stream's subscriber got, against the synthetic camera's exact truth.
/// </summary>
/// <param name="Processed">Each received result against the truth of the frame it answers.</param>
/// <param name="Shown">Every source frame from the first result's to the last one's against the latest result received for it
/// or an earlier frame: what a viewer of the stream saw, so a dropped frame counts as the stale result left on screen.</param>
/// <param name="Results">Results scored.</param>
/// <param name="Frames">Source frames scored for <paramref name="Shown"/>.</param>
public sealed record DeliveredAccuracy(TruthScores Processed, TruthScores Shown, long Results, long Frames);

/// <summary>
/// Scores the results of a capacity run on a synthetic camera (bench --kind streams --score-truth): a frame is a pure function of the
/// spec and its index, so each index in the window is rendered once, after the service has stopped, and every stream's results
/// are scored against it as delivered (decoded from their PNG or float16 payloads, so the wire's quantisation counts too).
/// </summary>
public static class DeliveredTruth
{
    /// <summary>One <see cref="DeliveredAccuracy"/> per stream (null for a stream with no results), in order.</summary>
    public static IReadOnlyList<DeliveredAccuracy?> Score(SyntheticSpec spec, int classes, IReadOnlyList<IReadOnlyList<KeptResult>> streams)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var camera = new SyntheticCamera(spec);
        var tallies = streams.Select(s => new Tally([.. s.OrderBy(r => r.FrameIndex)], classes)).ToArray();
        var scored = tallies.Where(t => t.Results.Count > 0).ToArray();
        if (scored.Length > 0)
        {
            long first = scored.Min(t => t.Results[0].FrameIndex);
            long last = scored.Max(t => t.Results[^1].FrameIndex);
            for (long index = first; index <= last; index++)
            {
                long i = index;
                if (!scored.Any(t => t.Covers(i)))
                {
                    continue;
                }
                using var frame = camera.RenderFrame(index, withTruth: true);
                foreach (var t in scored)
                {
                    t.Score(index, frame.Truth!);
                }
            }
        }
        return [.. tallies.Select(t => t.Accuracy)];
    }

    /// <summary>One stream's results in frame order, the one on screen, and its two sets of metrics.</summary>
    private sealed class Tally(IReadOnlyList<KeptResult> results, int classes)
    {
        private readonly Metrics _processed = new(classes);
        private readonly Metrics _shown = new(classes);
        private int _next;
        private Decoded? _onScreen;
        private long _frames;

        public IReadOnlyList<KeptResult> Results { get; } = results;

        public bool Covers(long index) => Results.Count > 0 && index >= Results[0].FrameIndex && index <= Results[^1].FrameIndex;

        public DeliveredAccuracy? Accuracy => Results.Count == 0 ? null
            : new DeliveredAccuracy(_processed.Scores, _shown.Scores, Results.Count, _frames);

        public void Score(long index, FrameTruth truth)
        {
            if (!Covers(index))
            {
                return;
            }
            while (_next < Results.Count && Results[_next].FrameIndex <= index)
            {
                var result = Results[_next++];
                _onScreen = Decoded.From(result.Outputs, truth.Width, truth.Height);
                if (result.FrameIndex == index)
                {
                    _processed.Add(_onScreen, truth);
                }
            }
            _shown.Add(_onScreen!, truth);
            _frames++;
        }
    }

    private sealed class Metrics(int classes)
    {
        private readonly SegmentationMetrics _labels = new(classes);
        private readonly DepthMetrics _depth = new();
        private readonly NormalsMetrics _normals = new();

        public void Add(Decoded d, FrameTruth truth)
        {
            if (d.Labels != null) _labels.Add(d.Labels, truth.Labels);
            if (d.Depth != null) _depth.Add(d.Depth, truth.Depth);
            if (d.Normals != null) _normals.Add(d.Normals, truth.Normals);
        }

        public TruthScores Scores => new(_labels.Pixels > 0 ? _labels.MeanIoU : double.NaN, _depth.AbsRel, _normals.MeanDeg);
    }

    /// <summary>A result's outputs as arrays at the truth's size (resized when the subscriber asked for another size).</summary>
    private sealed record Decoded(byte[]? Labels, float[]? Depth, float[]? Normals)
    {
        public static Decoded From(IReadOnlyList<TaskOutput> outputs, int width, int height)
        {
            byte[]? labels = null;
            float[]? depth = null, normals = null;
            foreach (var output in outputs)
            {
                switch (output.Task)
                {
                    case ApiTask.Segmentation:
                        using (var mat = Cv2.ImDecode(output.Data.Span, ImreadModes.Unchanged))
                        {
                            labels = Read<byte>(mat, width, height, InterpolationFlags.Nearest, 1);
                        }
                        break;
                    case ApiTask.Depth:
                        using (var mat = ResultOutputs.DecodeDepth(output))
                        {
                            depth = Read<float>(mat, width, height, InterpolationFlags.Linear, 1);
                        }
                        break;
                    case ApiTask.Normals:
                        using (var mat = ResultOutputs.DecodeNormals(output))
                        {
                            normals = Read<float>(mat, width, height, InterpolationFlags.Linear, 3);
                        }
                        break;
                }
            }
            return new Decoded(labels, depth, normals);
        }

        private static T[] Read<T>(Mat mat, int width, int height, InterpolationFlags interpolation, int channels)
            where T : unmanaged
        {
            if (mat.Empty())
            {
                throw new InvalidDataException("a result's output did not decode");
            }
            if (mat.Width == width && mat.Height == height)
            {
                return Copy<T>(mat, channels);
            }
            // Shrinking a continuous map averages the pixels each truth pixel covers.
            bool shrink = mat.Width > width && mat.Height > height && interpolation != InterpolationFlags.Nearest;
            using var sized = mat.Resize(new OpenCvSharp.Size(width, height), 0, 0, shrink ? InterpolationFlags.Area : interpolation);
            return Copy<T>(sized, channels);
        }

        /// <summary>A continuous Mat's values (what decoding and resizing make).</summary>
        private static unsafe T[] Copy<T>(Mat mat, int channels) where T : unmanaged =>
            new ReadOnlySpan<T>((void*)mat.Data, mat.Width * mat.Height * channels).ToArray();
    }
}
