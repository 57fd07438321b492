namespace StreamMtl.Ingest.Network;

/// <summary>The host and port a network source URL connects to first, as an <see cref="IEgressPolicy"/> is asked about it.</summary>
public static class EgressTarget
{
    /// <summary>Host without brackets and port (the scheme's default when absent, 0 when the scheme has none); null when unparsable.</summary>
    public static (string Host, int Port)? Of(string url)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Host.Length == 0)
        {
            return null;
        }
        var host = uri.IdnHost.StartsWith('[') && uri.IdnHost.EndsWith(']') ? uri.IdnHost[1..^1] : uri.IdnHost;
        var port = uri.IsDefaultPort || uri.Port < 0 ? DefaultPort(uri.Scheme) : uri.Port;
        return (host, port);
    }

    private static int DefaultPort(string scheme) => scheme.ToLowerInvariant() switch
    {
        "http" => 80,
        "https" => 443,
        "rtsp" => 554,
        "rtsps" => 322,
        "rtmp" => 1935,
        "rtmps" => 443,
        _ => 0,
    };
}
