using System.Globalization;
using System.Net;

namespace StreamMtl.Server.Security;

/// <summary>
/// One <c>Security:AllowedHosts</c> entry: <c>*</c>, an exact name or IP, or <c>*.example.com</c>, each optionally with
/// <c>:port</c> (IPv6 as <c>[::1]:8554</c>); without a port any port matches.
/// </summary>
public sealed record HostPattern(string Host, int? Port)
{
    public static HostPattern Parse(string entry)
    {
        entry = entry.Trim();
        if (entry.StartsWith('['))
        {
            var close = entry.IndexOf(']');
            var host = close > 0 ? entry[1..close] : entry;
            return new HostPattern(host, close > 0 && entry.Length > close + 2 && entry[close + 1] == ':' ? ParsePort(entry[(close + 2)..]) : null);
        }
        var colon = entry.IndexOf(':');
        // More than one colon: a bare IPv6 address, no port.
        return colon > 0 && colon == entry.LastIndexOf(':') && ParsePort(entry[(colon + 1)..]) is { } port
            ? new HostPattern(entry[..colon], port)
            : new HostPattern(entry, null);
    }

    /// <summary>True when <paramref name="host"/> (a name or an IP literal without brackets) and <paramref name="port"/> match.</summary>
    public bool Matches(string host, int port) => (Port is null || Port == port) && (Host == "*" || IsExact(host)
        || (Host.StartsWith("*.", StringComparison.Ordinal) && host.EndsWith(Host[1..], StringComparison.OrdinalIgnoreCase)));

    /// <summary>True when the entry names <paramref name="host"/> itself, not through a wildcard.</summary>
    public bool IsExact(string host) => string.Equals(Host, host, StringComparison.OrdinalIgnoreCase)
        || (IPAddress.TryParse(Host, out var mine) && IPAddress.TryParse(host, out var theirs) && Normal(mine).Equals(Normal(theirs)));

    private static IPAddress Normal(IPAddress address) => address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;

    private static int? ParsePort(string text) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port is > 0 and <= 65535 ? port : null;
}
