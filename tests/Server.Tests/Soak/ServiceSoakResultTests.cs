using StreamMtl.Server.Soak;

namespace StreamMtl.Server.Tests.Soak;

/// <summary>The soak verdict: the warm-up rule, RSS growth against the baseline, and "flat" that tolerates the thread pool's swings but not a climb.</summary>
public sealed class ServiceSoakResultTests
{
    /// <summary>Threads every 10 s from 300 s to 600 s of a measured 10-minute soak (the thread pool swinging between 30 and 50).</summary>
    private static readonly int[] MeasuredThreads = [35, 35, 36, 41, 42, 42, 44, 43, 44, 46, 47, 50, 45, 46, 47, 46, 41, 41, 41, 37, 38, 38, 39, 30, 30, 31, 34, 34, 34, 35, 38];

    private static ServiceSoakResult Soak(int[] threads, Func<int, double> rssMiB, int[]? fds = null)
    {
        var samples = Enumerable.Range(0, 30 + threads.Length).Select(i => new ServiceSample(TimeSpan.FromSeconds(10 * (i + 1)),
            (long)(rssMiB(i) * 1048576), fds?[Math.Max(0, i - 30)] ?? 256, threads[Math.Max(0, i - 30)], [i + 1L, i + 1L], i + 1L)).ToList();
        return new ServiceSoakResult([new("camera", "synthetic://x"), new("video", "/v.avi")], samples[^1].Elapsed, samples, 1, new([0, 0], 1, 0, null));
    }

    [Theory]
    [InlineData(3600, 360)]
    [InlineData(600, 300)]
    [InlineData(36, 18)]
    public void Warm_up_is_the_larger_of_5_minutes_and_a_tenth_but_at_most_half_the_run(int seconds, int warmUp) =>
        Assert.Equal(TimeSpan.FromSeconds(warmUp), ServiceSoakResult.WarmUpOf(TimeSpan.FromSeconds(seconds)));

    [Fact]
    public void Thread_pool_swings_with_flat_memory_pass()
    {
        var result = Soak(MeasuredThreads, i => 700 + (i % 3));
        Assert.Equal(TimeSpan.FromSeconds(300), result.Baseline.Elapsed);
        Assert.Empty(result.Failures);
        Assert.Equal((30, 50), result.Threads);
    }

    [Fact]
    public void Climbing_threads_descriptors_or_memory_fail_naming_each()
    {
        int[] climbing = [.. MeasuredThreads.Select((t, i) => t + i)];
        var result = Soak(climbing, i => 700 + 2.0 * i, fds: [.. MeasuredThreads.Select((_, i) => 256 + i / 4)]);
        Assert.Collection(result.Failures,
            f => Assert.StartsWith("RSS grew ", f, StringComparison.Ordinal),
            f => Assert.StartsWith("file descriptors climb ", f, StringComparison.Ordinal),
            f => Assert.StartsWith("threads climb ", f, StringComparison.Ordinal));
    }
}
