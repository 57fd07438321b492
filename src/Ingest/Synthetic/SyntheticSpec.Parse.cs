using System.Globalization;
using StreamMtl.Ingest.Sources;

namespace StreamMtl.Ingest.Synthetic;

public sealed partial record SyntheticSpec
{
    /// <summary>
    /// Parses <c>synthetic://static?seed=7&amp;w=320&amp;h=240&amp;fps=15</c>. Every problem (unknown, duplicate,
    /// malformed or out-of-range parameter) is reported at once in one <see cref="SourceException"/>
    /// of kind <see cref="SourceErrorKind.InvalidUri"/>, naming the parameter.
    /// </summary>
    public static SyntheticSpec Parse(string uri)
    {
        ArgumentNullException.ThrowIfNull(uri);
        var prefix = Scheme + "://";
        if (!uri.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
        {
            throw new SourceException(SourceErrorKind.InvalidUri, $"synthetic source URI must start with '{prefix}': '{uri}'");
        }

        var rest = uri[prefix.Length..];
        var q = rest.IndexOf('?');
        var modeText = (q < 0 ? rest : rest[..q]).TrimEnd('/');
        var query = q < 0 ? "" : rest[(q + 1)..];
        var errors = new List<string>();
        var spec = new SyntheticSpec();

        if (modeText.Equals("static", StringComparison.OrdinalIgnoreCase))
        {
            spec = spec with { Mode = SyntheticMode.Static };
        }
        else if (modeText.Equals("moving", StringComparison.OrdinalIgnoreCase))
        {
            spec = spec with { Mode = SyntheticMode.Moving };
        }
        else
        {
            errors.Add($"mode '{modeText}' must be 'static' or 'moving'");
        }

        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var pair in query.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = pair.IndexOf('=');
            var key = Uri.UnescapeDataString(eq < 0 ? pair : pair[..eq]).ToLowerInvariant();
            var value = eq < 0 ? "" : Uri.UnescapeDataString(pair[(eq + 1)..]);
            if (!seen.Add(key))
            {
                errors.Add($"parameter '{key}' is given more than once");
                continue;
            }
            spec = key switch
            {
                "seed" => Int(key, value, int.MinValue, int.MaxValue, errors) is int s ? spec with { Seed = s } : spec,
                "w" => Int(key, value, MinSize, MaxSize, errors) is int w ? spec with { Width = w } : spec,
                "h" => Int(key, value, MinSize, MaxSize, errors) is int h ? spec with { Height = h } : spec,
                "fps" => Real(key, value, 0, MaxFps, errors, exclusiveMin: true) is double f ? spec with { Fps = f } : spec,
                "noise" => Real(key, value, 0, MaxNoise, errors) is double n ? spec with { Noise = n } : spec,
                "objects" => Int(key, value, 0, MaxObjects, errors) is int o ? spec with { Objects = o } : spec,
                "frames" => Int(key, value, 1, int.MaxValue, errors) is int n ? spec with { Frames = n } : spec,
                "truth" => Int(key, value, 0, 1, errors) is int t ? spec with { Truth = t == 1 } : spec,
                "realtime" => Int(key, value, 0, 1, errors) is int r ? spec with { Realtime = r == 1 } : spec,
                _ => Unknown(key, spec, errors),
            };
        }

        if (errors.Count > 0)
        {
            throw new SourceException(SourceErrorKind.InvalidUri, $"invalid synthetic source URI '{uri}': {string.Join("; ", errors)}");
        }
        return spec;
    }

    private static SyntheticSpec Unknown(string key, SyntheticSpec spec, List<string> errors)
    {
        errors.Add($"unknown parameter '{key}' (known: seed, w, h, fps, noise, objects, frames, truth, realtime)");
        return spec;
    }

    private static int? Int(string key, string value, int min, int max, List<string> errors)
    {
        if (!int.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v))
        {
            errors.Add($"parameter '{key}' must be an integer, got '{value}'");
            return null;
        }
        if (v < min || v > max)
        {
            errors.Add($"parameter '{key}' must be in {min}..{max}, got {v}");
            return null;
        }
        return v;
    }

    private static double? Real(string key, string value, double min, double max, List<string> errors, bool exclusiveMin = false)
    {
        if (!double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) || !double.IsFinite(v))
        {
            errors.Add($"parameter '{key}' must be a number, got '{value}'");
            return null;
        }
        if (v > max || v < min || (exclusiveMin && v == min))
        {
            errors.Add($"parameter '{key}' must be in {(exclusiveMin ? "(" : "[")}{min}, {max}], got {v.ToString(CultureInfo.InvariantCulture)}");
            return null;
        }
        return v;
    }
}
