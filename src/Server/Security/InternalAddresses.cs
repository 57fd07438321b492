using System.Net;
using System.Net.Sockets;

namespace StreamMtl.Server.Security;

/// <summary>Addresses inside the host or its networks (loopback, private, link-local, ...) that an untrusted source must not reach by name.</summary>
public static class InternalAddresses
{
    /// <summary>The rule <paramref name="address"/> falls under (e.g. "loopback"), or null for a public address.</summary>
    public static string? Rule(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            var b = address.GetAddressBytes();
            return b[0] switch
            {
                0 => "this-network (0.0.0.0/8)",
                127 => "loopback (127.0.0.0/8)",
                10 => "private (10.0.0.0/8)",
                172 when (b[1] & 0xF0) == 16 => "private (172.16.0.0/12)",
                192 when b[1] == 168 => "private (192.168.0.0/16)",
                169 when b[1] == 254 => "link-local (169.254.0.0/16)",
                100 when (b[1] & 0xC0) == 64 => "carrier-grade NAT (100.64.0.0/10)",
                _ => null,
            };
        }
        if (IPAddress.IPv6Loopback.Equals(address) || IPAddress.IPv6None.Equals(address))
        {
            return "loopback or unspecified (::1, ::)";
        }
        var first = address.GetAddressBytes();
        if (first[0] == 0xFE && (first[1] & 0xC0) == 0x80)
        {
            return "link-local (fe80::/10)";
        }
        return (first[0] & 0xFE) == 0xFC ? "unique-local (fc00::/7)" : null;
    }
}
