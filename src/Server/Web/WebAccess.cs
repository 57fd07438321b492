using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using StreamMtl.Server.Configuration;
using StreamMtl.Server.Security;

namespace StreamMtl.Server.Web;

/// <summary>
/// Who may use the web view. Without API keys everyone on the bind address may (as with gRPC). With keys, a login
/// exchanges a key for a random server-side session token held in an HttpOnly, SameSite=Strict cookie: the key itself
/// never goes into a cookie, a URL or a log. Sessions expire and their number is bounded (the oldest goes first).
/// </summary>
public sealed class WebAccess(IOptions<ServiceOptions> options, TimeProvider time)
{
    public const string CookieName = "streammtl_session";
    public const int MaxSessions = 256;
    public static readonly TimeSpan SessionLifetime = TimeSpan.FromHours(12);

    private readonly byte[][] _keys = options.Value.Security.ApiKeys.Select(Encoding.UTF8.GetBytes).ToArray();
    private readonly string _header = options.Value.Security.ApiKeyHeader;
    private readonly ConcurrentDictionary<string, Session> _sessions = new(StringComparer.Ordinal);

    private sealed record Session(string Client, DateTimeOffset Expires);

    public bool KeysRequired => _keys.Length > 0;

    /// <summary>A session token for a valid key, or null (constant-time comparison).</summary>
    public string? Login(string? key)
    {
        if (!KeysRequired || string.IsNullOrEmpty(key))
        {
            return null;
        }
        byte[] bytes = Encoding.UTF8.GetBytes(key);
        if (!_keys.Any(k => CryptographicOperations.FixedTimeEquals(k, bytes)))
        {
            return null;
        }
        var now = time.GetUtcNow();
        foreach (var (token, session) in _sessions)
        {
            if (session.Expires <= now)
            {
                _sessions.TryRemove(token, out _);
            }
        }
        while (_sessions.Count >= MaxSessions && _sessions.OrderBy(s => s.Value.Expires).FirstOrDefault() is { Key: { } oldest })
        {
            _sessions.TryRemove(oldest, out _);
        }
        string newToken = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
        _sessions[newToken] = new Session("key:" + Convert.ToHexStringLower(SHA256.HashData(bytes))[..12], now + SessionLifetime);
        return newToken;
    }

    public void Logout(HttpContext context)
    {
        if (context.Request.Cookies[CookieName] is { } token)
        {
            _sessions.TryRemove(token, out _);
        }
        context.Response.Cookies.Delete(CookieName, CookieOptions(context));
    }

    /// <summary>The caller's client identity (for budgets) when it may use the web view, else null.</summary>
    public string? ClientOf(HttpContext context)
    {
        if (!KeysRequired)
        {
            return ClientIdentity.Of(context, _header);
        }
        if (context.Request.Cookies[CookieName] is not { Length: > 0 } token || !_sessions.TryGetValue(token, out var session))
        {
            return null;
        }
        if (session.Expires <= time.GetUtcNow())
        {
            _sessions.TryRemove(token, out _);
            return null;
        }
        return session.Client;
    }

    public static void SetCookie(HttpContext context, string token) =>
        context.Response.Cookies.Append(CookieName, token, CookieOptions(context));

    private static CookieOptions CookieOptions(HttpContext context) => new()
    {
        HttpOnly = true,
        SameSite = SameSiteMode.Strict,
        Secure = context.Request.IsHttps,
        Path = "/",
        MaxAge = SessionLifetime,
    };

    /// <summary>
    /// True when the request's Origin is this server (scheme and host as the request reached it). A browser always sends
    /// Origin on a WebSocket upgrade, so a page elsewhere cannot open one with the viewer's cookie; a missing Origin is refused.
    /// </summary>
    public static bool SameOrigin(HttpRequest request)
    {
        string? origin = request.Headers.Origin.FirstOrDefault();
        if (string.IsNullOrEmpty(origin) || !Uri.TryCreate(origin, UriKind.Absolute, out var uri))
        {
            return false;
        }
        string expected = $"{request.Scheme}://{request.Host.Value}";
        return string.Equals(uri.GetLeftPart(UriPartial.Authority), expected, StringComparison.OrdinalIgnoreCase);
    }
}
