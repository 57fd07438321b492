using System.Globalization;

namespace StreamMtl.Server.Capacity;

/// <summary>A process's CPU time so far (user + system, all threads), from /proc/PID/stat, alone or with its children.</summary>
public static class ProcessCpu
{
    /// <summary>Clock ticks per second of /proc's utime and stime (USER_HZ: 100 on every Linux architecture .NET runs on).</summary>
    private const double TicksPerSecond = 100;

    /// <summary>CPU seconds <paramref name="pid"/> has used; null once it is gone.</summary>
    public static double? Seconds(int pid)
    {
        try
        {
            return Parse(File.ReadAllText($"/proc/{pid}/stat"));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>
    /// CPU seconds <paramref name="pid"/> and its child processes (ffmpeg decoders) have used: its own, its reaped
    /// children's (cutime + cstime) and its live children's (theirs, reaped ones included). The sum only grows, so the
    /// difference of two readings is the tree's CPU time in between, children started or reaped meanwhile included. Null
    /// once the process is gone.
    /// </summary>
    public static double? TreeSeconds(int pid)
    {
        try
        {
            var (own, reaped, _) = Fields(File.ReadAllText($"/proc/{pid}/stat"));
            double children = 0;
            foreach (var dir in Directory.EnumerateDirectories("/proc"))
            {
                if (!int.TryParse(Path.GetFileName(dir), out var child) || child == pid)
                {
                    continue;
                }
                try
                {
                    var (childOwn, childReaped, parent) = Fields(File.ReadAllText(Path.Combine(dir, "stat")));
                    if (parent == pid)
                    {
                        children += childOwn + childReaped;
                    }
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    // Exited while listed: its time is in the parent's cutime now.
                }
            }
            return own + reaped + children;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>utime + stime of a /proc/PID/stat line, in seconds (the command name may hold spaces and parentheses: fields follow its last ')').</summary>
    public static double Parse(string stat) => Fields(stat).Own;

    /// <summary>A stat line's own CPU seconds (utime + stime), its reaped children's (cutime + cstime) and its parent's pid.</summary>
    internal static (double Own, double Reaped, int Parent) Fields(string stat)
    {
        int end = stat.LastIndexOf(')');
        if (end < 0)
        {
            throw new FormatException($"not a /proc/PID/stat line: '{stat}'");
        }
        // Fields after the name start at field 3 (state); utime and stime are fields 14 and 15.
        string[] fields = stat[(end + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length < 15)
        {
            throw new FormatException($"a /proc/PID/stat line with {fields.Length} fields after the name: '{stat}'");
        }
        double Ticks(int i) => long.Parse(fields[i], CultureInfo.InvariantCulture) / TicksPerSecond;
        // Field 4 (ppid) is fields[1]; cutime and cstime are fields 16 and 17.
        return (Ticks(11) + Ticks(12), Ticks(13) + Ticks(14), int.Parse(fields[1], CultureInfo.InvariantCulture));
    }
}
