namespace StreamMtl.Server.Capacity;

/// <summary>
/// The largest stream count that sustains every stream (<see cref="StreamsRun.Sustains"/>): counts double from 1 until one
/// fails, then bisect between the last that held and the first that did not. Each probe is a fresh service.
/// </summary>
public static class CapacitySearch
{
    /// <summary>Runs probes through <paramref name="probe"/> (N → run) up to <paramref name="maxStreams"/>; returns every run, in order, and the largest sustained N (0 if none).</summary>
    public static async Task<(int Largest, IReadOnlyList<StreamsRun> Runs)> FindAsync(Func<int, Task<StreamsRun>> probe, int maxStreams)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxStreams, 1);
        var runs = new List<StreamsRun>();
        int good = 0;
        int bad = maxStreams + 1;
        for (int n = 1; n <= maxStreams; n = Math.Min(n * 2, maxStreams))
        {
            var run = await probe(n).ConfigureAwait(false);
            runs.Add(run);
            if (!run.Sustains)
            {
                bad = n;
                break;
            }
            good = n;
            if (n == maxStreams)
            {
                break;
            }
        }
        while (bad - good > 1 && good < maxStreams)
        {
            int n = (good + bad) / 2;
            var run = await probe(n).ConfigureAwait(false);
            runs.Add(run);
            if (run.Sustains)
            {
                good = n;
            }
            else
            {
                bad = n;
            }
        }
        return (good, runs);
    }
}
