using System.Text;

namespace StreamMtl.Ingest.Network;

/// <summary>
/// A parsed forward-proxy request head: <c>CONNECT host:port</c>, or an absolute-form <c>GET http://host:port/path</c>
/// rewritten to origin-form with <c>Proxy-*</c> and hop-by-hop headers dropped and <c>Connection: close</c> forced, so each
/// relayed connection carries requests to one checked target only.
/// </summary>
internal sealed record ProxyRequestHead(string Method, string Host, int Port, bool IsConnect, byte[] Forward)
{
    /// <summary>The largest request head accepted, in bytes.</summary>
    public const int MaxBytes = 16 * 1024;

    private static readonly string[] DroppedHeaders = ["Connection", "Keep-Alive", "Host", "Upgrade", "TE", "Trailer"];

    /// <summary>Parses a head (without its final empty line); null with <paramref name="problem"/> set when it is not one we relay.</summary>
    public static ProxyRequestHead? Parse(string head, out string? problem)
    {
        var lines = head.Split("\r\n");
        var parts = lines[0].Split(' ');
        problem = null;
        if (parts.Length != 3 || !parts[2].StartsWith("HTTP/1.", StringComparison.Ordinal))
        {
            problem = "malformed request line";
            return null;
        }
        var (method, target) = (parts[0], parts[1]);
        if (method == "CONNECT")
        {
            if (!TrySplitAuthority(target, out var host, out var port))
            {
                problem = "malformed CONNECT target";
                return null;
            }
            return new ProxyRequestHead(method, host, port, IsConnect: true, []);
        }
        if (method is not ("GET" or "HEAD" or "POST"))
        {
            problem = "method not relayed";
            return null;
        }
        if (!target.StartsWith("http://", StringComparison.OrdinalIgnoreCase)
            || !Uri.TryCreate(target, UriKind.Absolute, out var uri) || uri.Host.Length == 0 || uri.UserInfo.Length > 0)
        {
            problem = "request target is not an absolute http URL";
            return null;
        }
        var pathStart = target.IndexOfAny(['/', '?'], "http://".Length);
        var path = pathStart < 0 ? "/" : target[pathStart] == '?' ? "/" + target[pathStart..] : target[pathStart..];
        var forward = new StringBuilder().Append(method).Append(' ').Append(path).Append(" HTTP/1.1\r\n")
            .Append("Host: ").Append(uri.Authority).Append("\r\n");
        foreach (var line in lines.Skip(1))
        {
            var colon = line.IndexOf(':');
            if (colon <= 0)
            {
                problem = "malformed header line";
                return null;
            }
            var name = line[..colon].Trim();
            if (!name.StartsWith("Proxy-", StringComparison.OrdinalIgnoreCase) && !DroppedHeaders.Contains(name, StringComparer.OrdinalIgnoreCase))
            {
                forward.Append(line).Append("\r\n");
            }
        }
        forward.Append("Connection: close\r\n\r\n");
        return new ProxyRequestHead(method, Unbracket(uri.Host), uri.Port, IsConnect: false, Encoding.Latin1.GetBytes(forward.ToString()));
    }

    private static bool TrySplitAuthority(string authority, out string host, out int port)
    {
        var colon = authority.LastIndexOf(':');
        host = colon > 0 ? Unbracket(authority[..colon]) : "";
        port = 0;
        return host.Length > 0 && !host.Contains(']', StringComparison.Ordinal) && int.TryParse(authority[(colon + 1)..],
            System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out port) && port is > 0 and <= 65535;
    }

    private static string Unbracket(string host) => host.StartsWith('[') && host.EndsWith(']') ? host[1..^1] : host;
}
