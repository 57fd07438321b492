using StreamMtl.Ingest.Supervision;
using OpenCvSharp;
using StreamMtl.Ingest.Frames;
using StreamMtl.Ingest.Sources;

namespace StreamMtl.Training.Benchmarks;

/// <summary>A decoded frame at model input size (BGR bytes) with its ground truth when the source has it.</summary>
public sealed record BenchFrame(long Index, byte[] Bgr, FrameTruth? Truth);

/// <summary>Reads a source into memory at model size first, so decoding never lands inside a timed pass.</summary>
public static class BenchFrames
{
    public static async Task<IReadOnlyList<BenchFrame>> LoadAsync(string uri, int frames, int width, int height,
        CancellationToken cancellationToken = default)
    {
        var list = new List<BenchFrame>(frames);
        await using var source = new FrameSourceFactory().Create(uri);
        await foreach (var frame in source.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            using (frame)
            {
                using var resized = new Mat();
                Downscale.Area(frame.Image, resized, width, height);
                var bytes = new byte[width * height * 3];
                System.Runtime.InteropServices.Marshal.Copy(resized.Data, bytes, 0, bytes.Length);
                var truth = frame.Truth is { } t && t.Width == width && t.Height == height ? t : null;
                list.Add(new BenchFrame(frame.Index, bytes, truth));
            }
            if (list.Count == frames)
            {
                break;
            }
        }
        return list;
    }
}
