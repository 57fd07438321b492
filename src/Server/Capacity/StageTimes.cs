using System.Text.RegularExpressions;

namespace StreamMtl.Server.Capacity;

/// <summary>
/// The service's per-stage time histograms (streammtl_stage_latency_seconds: preprocess, queue, inference, encode), read
/// as their sums and counts by stream and stage from its /metrics text, and the mean time per frame of each stage between
/// two readings.
/// </summary>
public static partial class StageTimes
{
    [GeneratedRegex("""^streammtl_stage_latency_seconds_(?<part>sum|count)\{(?<labels>[^}]*)\}\s+(?<value>\S+)""", RegexOptions.Multiline)]
    private static partial Regex Series();

    /// <summary>stream → stage → (seconds in total, observations), from Prometheus text exposition.</summary>
    public static Dictionary<string, Dictionary<string, (double Seconds, long Count)>> Parse(string exposition)
    {
        var times = new Dictionary<string, Dictionary<string, (double Seconds, long Count)>>(StringComparer.Ordinal);
        foreach (var (line, labels, value) in ExpositionSeries.Read(exposition, Series()))
        {
            if (!labels.TryGetValue("stream", out var stream) || !labels.TryGetValue("stage", out var stage))
            {
                continue;
            }
            if (!times.TryGetValue(stream, out var stages))
            {
                times[stream] = stages = new Dictionary<string, (double Seconds, long Count)>(StringComparer.Ordinal);
            }
            var (seconds, count) = stages.GetValueOrDefault(stage);
            stages[stage] = line.Groups["part"].Value == "sum" ? (value, count) : (seconds, (long)value);
        }
        return times;
    }

    /// <summary>Each stage's mean milliseconds per observation between two readings of one stream (stages with none left out).</summary>
    public static Dictionary<string, double> MeanMsBetween(IReadOnlyDictionary<string, (double Seconds, long Count)>? before,
        IReadOnlyDictionary<string, (double Seconds, long Count)>? after)
    {
        var means = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var (stage, (seconds, count)) in after ?? new Dictionary<string, (double Seconds, long Count)>())
        {
            var (s0, c0) = before != null && before.TryGetValue(stage, out var b) ? b : (0, 0);
            if (count > c0)
            {
                means[stage] = (seconds - s0) / (count - c0) * 1000;
            }
        }
        return means;
    }
}
