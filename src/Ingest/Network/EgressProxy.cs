using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging;
using StreamMtl.Ingest.Sources;

namespace StreamMtl.Ingest.Network;

/// <summary>
/// A loopback HTTP forward proxy for one ffmpeg child: every target (the URL, each redirect, each playlist entry, CONNECT
/// for https) is checked by an <see cref="IEgressPolicy"/> and reached at the addresses the policy resolved, never through
/// a second DNS lookup. Refused targets get a bare 403 and are recorded so the source can say which host it was refused.
/// </summary>
public sealed class EgressProxy : EgressGate
{
    /// <summary>Connections relayed at once; more get a 503.</summary>
    public const int Connections = 8;

    private static readonly TimeSpan HeadTimeout = TimeSpan.FromSeconds(10);

    private EgressProxy(IEgressPolicy policy, string source, ILogger? logger)
        : base(policy, source, logger, Connections)
    {
    }

    /// <summary>The proxy URL to hand to ffmpeg (<c>-http_proxy</c> and the <c>http_proxy</c> variable).</summary>
    public string Address => $"http://127.0.0.1:{Port}";

    /// <summary>Starts listening on 127.0.0.1 on a free port; <paramref name="source"/> (redacted) names the source in logs.</summary>
    public static EgressProxy Start(IEgressPolicy policy, string source, ILogger? logger = null)
    {
        var proxy = new EgressProxy(policy, source, logger);
        proxy.Open();
        return proxy;
    }

    protected override void TurnAway(Socket client) => Answer(client, "503 Service Unavailable");

    protected override Task ServeAsync(Socket client, CancellationToken token) => RelayOneAsync(client, token);

    private async Task RelayOneAsync(Socket client, CancellationToken token)
    {
        var (head, extra) = await ReadHeadAsync(client, token).ConfigureAwait(false);
        if (head is null)
        {
            EgressLog.BadRequest(Logger, Source, "request head missing or over " + ProxyRequestHead.MaxBytes + " bytes");
            Answer(client, "400 Bad Request");
            return;
        }
        if (ProxyRequestHead.Parse(head, out var problem) is not { } request)
        {
            EgressLog.BadRequest(Logger, Source, problem!);
            Answer(client, "400 Bad Request");
            return;
        }
        var decision = await CheckAsync(request.Host, request.Port, token).ConfigureAwait(false);
        if (!decision.IsAllowed)
        {
            Answer(client, "403 Forbidden");
            return;
        }
        using var upstream = await ConnectAsync(decision.Addresses, request.Host, request.Port, token).ConfigureAwait(false);
        if (upstream is null)
        {
            Answer(client, "502 Bad Gateway");
            return;
        }
        EgressLog.Relaying(Logger, Source, request.Method, request.Host, request.Port);
        if (request.IsConnect)
        {
            await client.SendAsync("HTTP/1.1 200 Connection established\r\n\r\n"u8.ToArray(), token).ConfigureAwait(false);
        }
        else
        {
            await upstream.SendAsync(request.Forward, token).ConfigureAwait(false);
        }
        if (extra.Length > 0)
        {
            await upstream.SendAsync(extra, token).ConfigureAwait(false);
        }
        await PipeAsync(client, upstream, token).ConfigureAwait(false);
    }

    private static async Task<(string? Head, byte[] Extra)> ReadHeadAsync(Socket client, CancellationToken token)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(token);
        timeout.CancelAfter(HeadTimeout);
        var buffer = new byte[ProxyRequestHead.MaxBytes];
        var filled = 0;
        while (filled < buffer.Length)
        {
            var n = await client.ReceiveAsync(buffer.AsMemory(filled), timeout.Token).ConfigureAwait(false);
            if (n == 0)
            {
                return (null, []);
            }
            filled += n;
            var end = buffer.AsSpan(0, filled).IndexOf("\r\n\r\n"u8);
            if (end >= 0)
            {
                return (Encoding.Latin1.GetString(buffer, 0, end), buffer[(end + 4)..filled]);
            }
        }
        return (null, []);
    }

    /// <summary>Copies both ways until either side closes; the forced <c>Connection: close</c> makes the target close after its answer.</summary>
    private static async Task PipeAsync(Socket client, Socket upstream, CancellationToken token)
    {
        using var both = CancellationTokenSource.CreateLinkedTokenSource(token);
        await using var clientStream = new NetworkStream(client, ownsSocket: false);
        await using var upstreamStream = new NetworkStream(upstream, ownsSocket: false);
        var up = clientStream.CopyToAsync(upstreamStream, both.Token);
        var down = upstreamStream.CopyToAsync(clientStream, both.Token);
        await Task.WhenAny(up, down).ConfigureAwait(false);
        await both.CancelAsync().ConfigureAwait(false);
        try
        {
            await Task.WhenAll(up, down).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
        {
        }
        // FIN after what was relayed, so the answer is not cut by a reset.
        TryShutdown(client);
    }

    private static void Answer(Socket client, string status)
    {
        try
        {
            client.Send(Encoding.ASCII.GetBytes($"HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"));
            TryShutdown(client);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
        }
    }
}
