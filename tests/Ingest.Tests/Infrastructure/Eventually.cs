using System.Diagnostics;

namespace StreamMtl.Ingest.Tests.Infrastructure;

/// <summary>Bounded polling for conditions that real processes reach asynchronously.</summary>
internal static class Eventually
{
    public static async Task<TimeSpan> UntilAsync(Func<bool> condition, TimeSpan timeout, Func<string> describe)
    {
        var watch = Stopwatch.StartNew();
        while (!condition())
        {
            if (watch.Elapsed > timeout)
            {
                throw new TimeoutException($"not reached within {timeout.TotalSeconds:0.#} s: {describe()}");
            }
            await Task.Delay(25);
        }
        return watch.Elapsed;
    }

    /// <summary>Awaits a task but fails the test instead of hanging it.</summary>
    public static async Task<T> Within<T>(Task<T> task, TimeSpan timeout)
    {
        var done = await Task.WhenAny(task, Task.Delay(timeout));
        if (done != task)
        {
            throw new TimeoutException($"did not finish within {timeout.TotalSeconds:0.#} s");
        }
        return await task;
    }
}
