using System.Globalization;
using System.Text.RegularExpressions;

namespace StreamMtl.Server.Capacity;

/// <summary>One metric's samples in Prometheus text exposition: each line's labels and value.</summary>
internal static partial class ExpositionSeries
{
    [GeneratedRegex("""(?<name>\w+)="(?<value>(?:[^"\\]|\\.)*)" """, RegexOptions.IgnorePatternWhitespace)]
    private static partial Regex Label();

    /// <summary>
    /// The lines <paramref name="series"/> matches (a multiline pattern with groups <c>labels</c> and <c>value</c>), each with
    /// its labels by name, its value and the match (for any further groups of the pattern).
    /// </summary>
    public static IEnumerable<(Match Line, Dictionary<string, string> Labels, double Value)> Read(string exposition, Regex series)
    {
        foreach (Match line in series.Matches(exposition))
        {
            var labels = Label().Matches(line.Groups["labels"].Value).ToDictionary(m => m.Groups["name"].Value, m => m.Groups["value"].Value);
            yield return (line, labels, double.Parse(line.Groups["value"].Value, CultureInfo.InvariantCulture));
        }
    }
}
