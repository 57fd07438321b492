using System.Diagnostics;
using StreamMtl.Ingest.Files;
using StreamMtl.Ingest.Sources;
using StreamMtl.Ingest.Tests.Infrastructure;

namespace StreamMtl.Ingest.Tests.Sources;

public sealed class FileFrameSourceTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);
    private static readonly SourceOptions Batch = new() { Pacing = Pacing.Batch };

    [Theory]
    [InlineData("vtest.avi", 795, 768, 576, FileDecoder.Ffmpeg)]
    [InlineData("car-detection.mp4", 377, 768, 432, FileDecoder.Ffmpeg)]
    [InlineData("vtest.avi", 795, 768, 576, FileDecoder.OpenCv)]
    [InlineData("car-detection.mp4", 377, 768, 432, FileDecoder.OpenCv)]
    public async Task Decodes_every_frame_of_a_shared_clip(string name, int frames, int width, int height, FileDecoder decoder)
    {
        await using var source = new FileFrameSource(TestPaths.Video(name), Batch with { FileDecoder = decoder });

        var (count, lastIndex, allSized) = await Eventually.Within(CountAsync(source, f => f.Width == width && f.Height == height), Bound);

        Assert.Equal(frames, count);
        Assert.Equal(frames - 1, lastIndex);
        Assert.True(allSized);
        Assert.Equal(width, source.Info.Width);
    }

    [Fact]
    public async Task Missing_file_is_NotFound()
    {
        await using var source = new FileFrameSource("/nonexistent/streammtl/missing.mp4");

        var error = await Assert.ThrowsAsync<SourceException>(() => CountAsync(source));

        Assert.Equal(SourceErrorKind.NotFound, error.Kind);
        Assert.True(error.IsPermanent);
    }

    [Theory]
    [InlineData(FileDecoder.Ffmpeg)]
    [InlineData(FileDecoder.OpenCv)]
    public async Task Random_bytes_are_NotAVideo(FileDecoder decoder)
    {
        using var dir = new TempDirectory();
        var path = Path.Combine(dir.Path, "noise.mp4");
        var bytes = new byte[256 * 1024];
        new Random(42).NextBytes(bytes);
        await File.WriteAllBytesAsync(path, bytes);
        await using var source = new FileFrameSource(path, Batch with { FileDecoder = decoder });

        var error = await Assert.ThrowsAsync<SourceException>(() => Eventually.Within(CountAsync(source), Bound));

        Assert.Equal(SourceErrorKind.NotAVideo, error.Kind);
    }

    [Theory]
    [InlineData("vtest.avi", FileDecoder.Ffmpeg)]
    [InlineData("car-detection.mp4", FileDecoder.Ffmpeg)]
    [InlineData("vtest.avi", FileDecoder.OpenCv)]
    [InlineData("car-detection.mp4", FileDecoder.OpenCv)]
    public async Task Truncated_file_reports_a_specific_error(string clip, FileDecoder decoder)
    {
        using var dir = new TempDirectory();
        var path = Path.Combine(dir.Path, "truncated" + Path.GetExtension(clip));
        var bytes = await File.ReadAllBytesAsync(TestPaths.Video(clip));
        await File.WriteAllBytesAsync(path, bytes.AsSpan(0, bytes.Length / 3).ToArray());
        await using var source = new FileFrameSource(path, Batch with { FileDecoder = decoder });

        var error = await Assert.ThrowsAsync<SourceException>(() => Eventually.Within(CountAsync(source), Bound));

        Assert.Contains(error.Kind, new[] { SourceErrorKind.Truncated, SourceErrorKind.NotAVideo });
        Assert.Contains("truncated", error.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Theory]
    [InlineData(FileDecoder.Ffmpeg)]
    [InlineData(FileDecoder.OpenCv)]
    public async Task Live_pacing_follows_the_file_rate(FileDecoder decoder)
    {
        // vtest.avi is 10 fps: frames 0..5 are due at 0..500 ms.
        await using var source = new FileFrameSource(TestPaths.Video("vtest.avi"),
            new SourceOptions { Pacing = Pacing.Live, Width = 320, Height = 240, FileDecoder = decoder });
        var watch = Stopwatch.StartNew();
        var n = 0;
        await foreach (var frame in source.ReadAsync())
        {
            using (frame)
            {
                Assert.Equal(320, frame.Width);
                if (++n == 6)
                {
                    break;
                }
            }
        }

        Assert.InRange(watch.Elapsed.TotalMilliseconds, 450, 3000);
    }

    [Theory]
    [InlineData(FileDecoder.Ffmpeg)]
    [InlineData(FileDecoder.OpenCv)]
    public async Task Loop_restarts_with_continuous_indices_and_timestamps(FileDecoder decoder)
    {
        await using var source = new FileFrameSource(TestPaths.Video("car-detection.mp4"),
            Batch with { Loop = true, Width = 192, Height = 108, FileDecoder = decoder });
        long expected = 0;
        var last = TimeSpan.MinValue;
        await foreach (var frame in source.ReadAsync())
        {
            using (frame)
            {
                Assert.Equal(expected++, frame.Index);
                Assert.True(frame.Timestamp > last);
                last = frame.Timestamp;
            }
            if (expected == 450)
            {
                break;
            }
        }

        Assert.Equal(450, expected);
        Assert.True(last > TimeSpan.FromSeconds(377 / 12.5));
    }

    [Theory]
    [InlineData(0, 0)]
    [InlineData(320, 240)]
    public async Task The_two_decoders_give_the_same_pictures(int width, int height)
    {
        // Different decoders and scalers: the same frames, pixels within a few levels (not bit for bit).
        var options = Batch with { Width = width, Height = height };
        await using var ffmpeg = new FileFrameSource(TestPaths.Video("vtest.avi"), options with { FileDecoder = FileDecoder.Ffmpeg });
        await using var opencv = new FileFrameSource(TestPaths.Video("vtest.avi"), options with { FileDecoder = FileDecoder.OpenCv });
        var a = ffmpeg.ReadAsync().GetAsyncEnumerator();
        var b = opencv.ReadAsync().GetAsyncEnumerator();
        try
        {
            for (var i = 0; i < 40; i++)
            {
                Assert.True(await a.MoveNextAsync());
                Assert.True(await b.MoveNextAsync());
                using var x = a.Current;
                using var y = b.Current;
                Assert.Equal((y.Width, y.Height), (x.Width, x.Height));
                using var diff = new OpenCvSharp.Mat();
                OpenCvSharp.Cv2.Absdiff(x.Image, y.Image, diff);
                var mean = OpenCvSharp.Cv2.Mean(diff);
                Assert.True(mean.Val0 + mean.Val1 + mean.Val2 < 3 * 3, $"frame {i}: mean absolute difference {mean} levels");
            }
        }
        finally
        {
            await a.DisposeAsync();
            await b.DisposeAsync();
        }
    }

    [Fact]
    public async Task The_ffmpeg_child_is_gone_once_reading_stops()
    {
        await using var source = new FileFrameSource(TestPaths.Video("vtest.avi"), Batch with { FileDecoder = FileDecoder.Ffmpeg, Loop = true });
        var child = 0;
        var n = 0;
        await foreach (var frame in source.ReadAsync())
        {
            frame.Dispose();
            if (++n == 1)
            {
                child = source.DecoderProcessId;
                Assert.NotEqual(0, child);
                Assert.Equal("ffmpeg", File.ReadAllText($"/proc/{child}/comm").Trim());
            }
            if (n == 5)
            {
                break;
            }
        }

        Assert.Equal(0, source.DecoderProcessId);
        await Eventually.UntilAsync(() => !Directory.Exists($"/proc/{child}"), TimeSpan.FromSeconds(10), () => $"ffmpeg {child} still runs");
    }

    [Fact]
    public async Task Ffmpeg_missing_is_DependencyMissing()
    {
        await using var source = new FileFrameSource(TestPaths.Video("vtest.avi"),
            Batch with { FfmpegPath = "/nonexistent/streammtl/ffmpeg", FileDecoder = FileDecoder.Ffmpeg });

        var error = await Assert.ThrowsAsync<SourceException>(() => CountAsync(source));

        Assert.Equal(SourceErrorKind.DependencyMissing, error.Kind);
        Assert.Contains("ffmpeg", error.Message, StringComparison.Ordinal);
    }

    internal static async Task<(int Count, long LastIndex, bool AllMatch)> CountAsync(FileFrameSource source, Func<StreamMtl.Ingest.Frames.Frame, bool>? check = null)
    {
        var count = 0;
        long last = -1;
        var all = true;
        await foreach (var frame in source.ReadAsync())
        {
            using (frame)
            {
                count++;
                last = frame.Index;
                all &= check?.Invoke(frame) ?? true;
            }
        }
        return (count, last, all);
    }
}
