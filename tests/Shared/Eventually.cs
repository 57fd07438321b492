using System.Diagnostics;

namespace StreamMtl.Tests.Shared;

/// <summary>Bounded polling and waiting for conditions that real processes reach asynchronously: no test hangs.</summary>
internal static class Eventually
{
    /// <summary>Polls until <paramref name="condition"/> holds; returns how long it took.</summary>
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

    /// <summary>Polls an asynchronous condition (e.g. an RPC) until it holds; returns how long it took.</summary>
    public static async Task<TimeSpan> UntilAsync(Func<Task<bool>> condition, TimeSpan timeout, Func<string> describe)
    {
        var watch = Stopwatch.StartNew();
        while (!await condition())
        {
            if (watch.Elapsed > timeout)
            {
                throw new TimeoutException($"not reached within {timeout.TotalSeconds:0.#} s: {describe()}");
            }
            await Task.Delay(100);
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
