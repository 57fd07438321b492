using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace StreamMtl.Server.Security;

/// <summary>
/// Who a call comes from, for per-client budgets and rate limits: the API key when one is sent (as a short hash, never
/// the key), else the peer's IP address. Clients behind one NAT without keys share a budget.
/// </summary>
public static class ClientIdentity
{
    public static string Of(HttpContext context, string apiKeyHeader)
    {
        string? key = context.Request.Headers[apiKeyHeader].FirstOrDefault();
        if (key is null && context.Request.Headers.Authorization.FirstOrDefault() is { } bearer
            && bearer.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            key = bearer[7..];
        }
        if (!string.IsNullOrEmpty(key))
        {
            return "key:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)))[..12];
        }
        return context.Connection.RemoteIpAddress is { } ip ? "ip:" + (ip.IsIPv4MappedToIPv6 ? ip.MapToIPv4() : ip) : "ip:unknown";
    }
}
