using System.Diagnostics;

namespace StreamMtl.Server.Tests.Infrastructure;

/// <summary>Bounded polling and waiting: no test hangs.</summary>
internal static class Eventually
{
    public static async Task UntilAsync(Func<bool> condition, TimeSpan timeout, Func<string> describe)
    {
        var watch = Stopwatch.StartNew();
        while (!condition())
        {
            if (watch.Elapsed > timeout)
            {
                throw new TimeoutException($"not reached within {timeout.TotalSeconds:0.#} s: {describe()}");
            }
            await Task.Delay(50);
        }
    }

    public static async Task UntilAsync(Func<Task<bool>> condition, TimeSpan timeout, Func<string> describe)
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
    }
}
