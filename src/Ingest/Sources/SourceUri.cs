namespace StreamMtl.Ingest.Sources;

/// <summary>Applies URI fragment parameters (<c>#width=320&amp;height=240&amp;mode=batch</c>) to options.</summary>
internal static class SourceUri
{
    // The fragment is never sent to a server, so it can carry our settings without touching the camera's URL.
    public static (string Target, SourceOptions Options) SplitFragment(string uri, SourceOptions options, bool strict)
    {
        var hash = uri.IndexOf('#');
        if (hash < 0)
        {
            return (uri, options);
        }
        var target = uri[..hash];
        var errors = new List<string>();
        foreach (var pair in uri[(hash + 1)..].Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = pair.IndexOf('=');
            var key = (eq < 0 ? pair : pair[..eq]).ToLowerInvariant();
            var value = eq < 0 ? "1" : Uri.UnescapeDataString(pair[(eq + 1)..]);
            options = Apply(options, key, value, errors, strict);
        }
        errors.AddRange(options.Validate());
        if (errors.Count > 0)
        {
            throw new SourceException(SourceErrorKind.InvalidUri, $"invalid parameters in {UriRedactor.Redact(uri)}: {string.Join("; ", errors)}");
        }
        return (target, options);
    }

    private static SourceOptions Apply(SourceOptions o, string key, string value, List<string> errors, bool strict)
    {
        switch (key)
        {
            case "width":
                return int.TryParse(value, out var w) ? o with { Width = w } : Bad(o, key, value, errors);
            case "height":
                return int.TryParse(value, out var h) ? o with { Height = h } : Bad(o, key, value, errors);
            case "mode":
                return Enum.TryParse<Pacing>(value, ignoreCase: true, out var p) ? o with { Pacing = p } : Bad(o, key, value, errors);
            case "loop":
                return TryParseBool(value, out var loop) ? o with { Loop = loop } : Bad(o, key, value, errors);
            case "transport":
                return Enum.TryParse<RtspTransport>(value, ignoreCase: true, out var t) ? o with { RtspTransport = t } : Bad(o, key, value, errors);
            case "decoder":
                return Enum.TryParse<FileDecoder>(value, ignoreCase: true, out var d) && Enum.IsDefined(d) && !int.TryParse(value, out _)
                    ? o with { FileDecoder = d }
                    : Bad(o, key, value, errors);
            case "timeout":
                return double.TryParse(value, System.Globalization.CultureInfo.InvariantCulture, out var s) && s > 0
                    ? o with { IoTimeout = TimeSpan.FromSeconds(s) }
                    : Bad(o, key, value, errors);
            default:
                if (strict)
                {
                    errors.Add($"unknown parameter '{key}' (known: width, height, mode, loop, transport, timeout, decoder)");
                }
                return o;
        }
    }

    private static SourceOptions Bad(SourceOptions o, string key, string value, List<string> errors)
    {
        errors.Add($"bad value '{value}' for '{key}'");
        return o;
    }

    internal static bool TryParseBool(string value, out bool result)
    {
        switch (value.ToLowerInvariant())
        {
            case "1" or "true" or "yes" or "on":
                result = true;
                return true;
            case "0" or "false" or "no" or "off":
                result = false;
                return true;
            default:
                result = false;
                return false;
        }
    }
}
