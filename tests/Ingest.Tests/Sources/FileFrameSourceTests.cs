using System.Diagnostics;
using StreamMtl.Ingest.Sources;
using StreamMtl.Ingest.Tests.Infrastructure;

namespace StreamMtl.Ingest.Tests.Sources;

public sealed class FileFrameSourceTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);
    private static readonly SourceOptions Batch = new() { Pacing = Pacing.Batch };

    [Theory]
    [InlineData("vtest.avi", 795, 768, 576)]
    [InlineData("car-detection.mp4", 377, 768, 432)]
    public async Task Decodes_every_frame_of_a_shared_clip(string name, int frames, int width, int height)
    {
        await using var source = new FileFrameSource(TestPaths.Video(name), Batch);

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

    [Fact]
    public async Task Random_bytes_are_NotAVideo()
    {
        using var dir = new TempDirectory();
        var path = Path.Combine(dir.Path, "noise.mp4");
        var bytes = new byte[256 * 1024];
        new Random(42).NextBytes(bytes);
        await File.WriteAllBytesAsync(path, bytes);
        await using var source = new FileFrameSource(path, Batch);

        var error = await Assert.ThrowsAsync<SourceException>(() => Eventually.Within(CountAsync(source), Bound));

        Assert.Equal(SourceErrorKind.NotAVideo, error.Kind);
    }

    [Theory]
    [InlineData("vtest.avi")]
    [InlineData("car-detection.mp4")]
    public async Task Truncated_file_reports_a_specific_error(string clip)
    {
        using var dir = new TempDirectory();
        var path = Path.Combine(dir.Path, "truncated" + Path.GetExtension(clip));
        var bytes = await File.ReadAllBytesAsync(TestPaths.Video(clip));
        await File.WriteAllBytesAsync(path, bytes.AsSpan(0, bytes.Length / 3).ToArray());
        await using var source = new FileFrameSource(path, Batch);

        var error = await Assert.ThrowsAsync<SourceException>(() => Eventually.Within(CountAsync(source), Bound));

        Assert.Contains(error.Kind, new[] { SourceErrorKind.Truncated, SourceErrorKind.NotAVideo });
        Assert.Contains("truncated", error.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Live_pacing_follows_the_file_rate()
    {
        // vtest.avi is 10 fps: frames 0..5 are due at 0..500 ms.
        await using var source = new FileFrameSource(TestPaths.Video("vtest.avi"), new SourceOptions { Pacing = Pacing.Live, Width = 320, Height = 240 });
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

    [Fact]
    public async Task Loop_restarts_with_continuous_indices_and_timestamps()
    {
        await using var source = new FileFrameSource(TestPaths.Video("car-detection.mp4"), Batch with { Loop = true, Width = 192, Height = 108 });
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
