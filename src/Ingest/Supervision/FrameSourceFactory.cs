using Microsoft.Extensions.Logging;
using StreamMtl.Ingest.Files;
using StreamMtl.Ingest.Sources;
using StreamMtl.Ingest.Network;
using StreamMtl.Ingest.Synthetic;

namespace StreamMtl.Ingest.Supervision;

/// <summary>Creates the right <see cref="IFrameSource"/> for a URI string; extra schemes can be registered.</summary>
public sealed class FrameSourceFactory
{
    /// <summary>Schemes served by an ffmpeg child process.</summary>
    public static IReadOnlySet<string> NetworkSchemes { get; } = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
    {
        "rtsp", "rtsps", "rtmp", "rtmps", "http", "https", "srt", "udp",
    };

    private readonly Dictionary<string, Func<Uri, SourceOptions, IFrameSource>> _custom = new(StringComparer.OrdinalIgnoreCase);
    private readonly TimeProvider _time;
    private readonly ILoggerFactory? _logs;

    /// <summary>A factory; <paramref name="logs"/> receives what sources log themselves (the egress proxy's refusals).</summary>
    public FrameSourceFactory(TimeProvider? time = null, ILoggerFactory? logs = null)
    {
        _time = time ?? TimeProvider.System;
        _logs = logs;
    }

    /// <summary>Serves <paramref name="scheme"/> (e.g. "synthetic") with <paramref name="create"/>; replaces a previous registration.</summary>
    public FrameSourceFactory Register(string scheme, Func<Uri, SourceOptions, IFrameSource> create)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(scheme);
        _custom[scheme.TrimEnd(':', '/')] = create;
        return this;
    }

    /// <summary>
    /// Creates a source; throws <see cref="SourceException"/> with <see cref="SourceErrorKind.InvalidUri"/> or
    /// <see cref="SourceErrorKind.UnsupportedScheme"/> for URIs it cannot serve. Nothing is opened yet.
    /// </summary>
    public IFrameSource Create(string uri, SourceOptions? options = null)
    {
        options ??= SourceOptions.Default;
        if (string.IsNullOrWhiteSpace(uri))
        {
            throw new SourceException(SourceErrorKind.InvalidUri, "source URI is empty");
        }
        uri = uri.Trim();
        var schemeEnd = uri.IndexOf("://", StringComparison.Ordinal);
        if (schemeEnd < 0)
        {
            // A plain path: "/dev/video0", "clips/a.mp4", "/data/a.mp4#mode=batch".
            var (path, pathOptions) = SourceUri.SplitFragment(uri, options, strict: true);
            return PathSource(path, pathOptions);
        }
        var scheme = uri[..schemeEnd];
        if (scheme.Length == 0 || !char.IsAsciiLetter(scheme[0]) || !scheme.All(c => char.IsAsciiLetterOrDigit(c) || c is '+' or '-' or '.'))
        {
            throw new SourceException(SourceErrorKind.InvalidUri, $"malformed source URI (bad scheme): {UriRedactor.Redact(uri)}");
        }
        if (_custom.TryGetValue(scheme, out var create))
        {
            var (_, customOptions) = SourceUri.SplitFragment(uri, options, strict: false);
            return create(ParseUri(uri), customOptions);
        }
        var (target, merged) = SourceUri.SplitFragment(uri, options, strict: true);
        var parsed = ParseUri(target);
        switch (scheme.ToLowerInvariant())
        {
            case "file":
                return PathSource(Uri.UnescapeDataString(parsed.AbsolutePath), merged);
            case "v4l2":
                return new DeviceFrameSource(Uri.UnescapeDataString(parsed.AbsolutePath), merged, _time);
            case var s when NetworkSchemes.Contains(s):
                RequireHost(parsed, uri);
                var (url, listen) = StripListen(target, parsed);
                if (listen && s is not ("rtsp" or "rtsps"))
                {
                    throw new SourceException(SourceErrorKind.InvalidUri, $"listen=1 is supported for rtsp only: {UriRedactor.Redact(uri)}");
                }
                return new FfmpegFrameSource(url, merged, listen, _time, _logs?.CreateLogger<FfmpegFrameSource>());
            case SyntheticSpec.Scheme:
                return new SyntheticSource(SyntheticSpec.Parse(target), _time);
            default:
                throw new SourceException(SourceErrorKind.UnsupportedScheme,
                    $"unsupported source scheme '{scheme}' in {UriRedactor.Redact(uri)} (supported: file, v4l2, synthetic, {string.Join(", ", NetworkSchemes.Order())}{(_custom.Count > 0 ? ", " + string.Join(", ", _custom.Keys.Order()) : "")})");
        }
    }

    private IFrameSource PathSource(string path, SourceOptions options)
    {
        if (path.StartsWith("/dev/video", StringComparison.Ordinal))
        {
            return new DeviceFrameSource(path, options, _time);
        }
        return new FileFrameSource(path, options, _time);
    }

    private static Uri ParseUri(string uri)
    {
        if (!Uri.TryCreate(uri, UriKind.Absolute, out var parsed))
        {
            throw new SourceException(SourceErrorKind.InvalidUri, $"malformed source URI: {UriRedactor.Redact(uri)}");
        }
        return parsed;
    }

    private static void RequireHost(Uri parsed, string original)
    {
        if (string.IsNullOrEmpty(parsed.Host))
        {
            throw new SourceException(SourceErrorKind.InvalidUri, $"network source URI has no host: {UriRedactor.Redact(original)}");
        }
    }

    // "?listen=1" is ours, not the camera's: strip it so the path ffmpeg announces is the one publishers use.
    private static (string Url, bool Listen) StripListen(string target, Uri parsed)
    {
        if (parsed.Query.Length <= 1)
        {
            return (target, false);
        }
        var listen = false;
        var kept = new List<string>();
        foreach (var pair in parsed.Query[1..].Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = pair.IndexOf('=');
            var key = eq < 0 ? pair : pair[..eq];
            if (key.Equals("listen", StringComparison.OrdinalIgnoreCase))
            {
                listen = eq < 0 || (SourceUri.TryParseBool(pair[(eq + 1)..], out var on) && on);
                continue;
            }
            kept.Add(pair);
        }
        var query = target.IndexOf('?');
        var url = target[..query] + (kept.Count > 0 ? "?" + string.Join('&', kept) : "");
        return (url, listen);
    }
}
