using System.Text.RegularExpressions;

namespace StreamMtl.Server.Capacity;

/// <summary>The service's dropped-frame counters (streammtl_frames_dropped_total), by stream and reason, read from its /metrics text.</summary>
public static partial class DropCounts
{
    [GeneratedRegex("""^streammtl_frames_dropped_total\{(?<labels>[^}]*)\}\s+(?<value>\S+)""", RegexOptions.Multiline)]
    private static partial Regex Series();

    /// <summary>stream → reason → count, from Prometheus text exposition.</summary>
    public static Dictionary<string, Dictionary<string, long>> Parse(string exposition)
    {
        var counts = new Dictionary<string, Dictionary<string, long>>(StringComparer.Ordinal);
        foreach (var (_, labels, value) in ExpositionSeries.Read(exposition, Series()))
        {
            if (!labels.TryGetValue("stream", out var stream) || !labels.TryGetValue("reason", out var reason))
            {
                continue;
            }
            if (!counts.TryGetValue(stream, out var reasons))
            {
                counts[stream] = reasons = new Dictionary<string, long>(StringComparer.Ordinal);
            }
            reasons[reason] = (long)value;
        }
        return counts;
    }

    /// <summary>What each reason counted between two readings of one stream (reasons first seen in <paramref name="after"/> count from 0).</summary>
    public static Dictionary<string, long> Between(IReadOnlyDictionary<string, long>? before, IReadOnlyDictionary<string, long>? after) =>
        (after ?? new Dictionary<string, long>()).ToDictionary(kv => kv.Key,
            kv => kv.Value - (before != null && before.TryGetValue(kv.Key, out long b) ? b : 0), StringComparer.Ordinal);
}
