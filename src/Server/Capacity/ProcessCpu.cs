using System.Globalization;

namespace StreamMtl.Server.Capacity;

/// <summary>A process's CPU time so far (user + system, all threads), from /proc/PID/stat.</summary>
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

    /// <summary>utime + stime of a /proc/PID/stat line, in seconds (the command name may hold spaces and parentheses: fields follow its last ')').</summary>
    public static double Parse(string stat)
    {
        int end = stat.LastIndexOf(')');
        if (end < 0)
        {
            throw new FormatException($"not a /proc/PID/stat line: '{stat}'");
        }
        // Fields after the name start at field 3 (state); utime and stime are fields 14 and 15.
        string[] fields = stat[(end + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length < 13)
        {
            throw new FormatException($"a /proc/PID/stat line with {fields.Length} fields after the name: '{stat}'");
        }
        return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / TicksPerSecond;
    }
}
