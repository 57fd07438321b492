using System.Globalization;

namespace StreamMtl.Server.Soak;

/// <summary>What the kernel says about a process (Linux /proc): resident memory, open file descriptors, threads.</summary>
public readonly record struct ProcessFigures(long RssBytes, int FileDescriptors, int Threads)
{
    /// <summary>Reads /proc/<paramref name="pid"/>/status (VmRSS, Threads) and counts /proc/<paramref name="pid"/>/fd; null once the process is gone.</summary>
    public static ProcessFigures? Read(int pid)
    {
        try
        {
            long rss = -1;
            int threads = -1;
            foreach (string line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    rss = long.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim(), CultureInfo.InvariantCulture) * 1024;
                }
                else if (line.StartsWith("Threads:", StringComparison.Ordinal))
                {
                    threads = int.Parse(line.AsSpan(8).Trim(), CultureInfo.InvariantCulture);
                }
            }
            int fds = Directory.EnumerateFileSystemEntries($"/proc/{pid}/fd").Count();
            // A zombie has no VmRSS line: it holds no memory any more.
            return rss < 0 || threads < 0 ? null : new ProcessFigures(rss, fds, threads);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
