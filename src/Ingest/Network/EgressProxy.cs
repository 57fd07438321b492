using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using StreamMtl.Ingest.Sources;

namespace StreamMtl.Ingest.Network;

/// <summary>
/// A loopback HTTP forward proxy for one ffmpeg child: every target (the URL, each redirect, each playlist entry, CONNECT
/// for https) is checked by an <see cref="IEgressPolicy"/> and reached at the addresses the policy resolved, never through
/// a second DNS lookup. Refused targets get a bare 403 and are recorded so the source can say which host it was refused.
/// </summary>
public sealed class EgressProxy : IAsyncDisposable
{
    /// <summary>Connections relayed at once; more wait for none and get a 503.</summary>
    public const int MaxConnections = 8;

    private const int MaxRecordedRefusals = 16;
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan HeadTimeout = TimeSpan.FromSeconds(10);

    private readonly TcpListener _listener;
    private readonly IEgressPolicy _policy;
    private readonly string _source;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _slots = new(MaxConnections, MaxConnections);
    private readonly ConcurrentQueue<EgressRefusal> _refusals = new();
    private readonly ConcurrentDictionary<Task, bool> _connections = new();
    private readonly Task _accepting;

    private EgressProxy(IEgressPolicy policy, string source, ILogger? logger)
    {
        _policy = policy;
        _source = source;
        _logger = logger ?? NullLogger.Instance;
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start(MaxConnections);
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _accepting = AcceptAsync(_stop.Token);
    }

    /// <summary>The loopback port the proxy listens on.</summary>
    public int Port { get; }

    /// <summary>The proxy URL to hand to ffmpeg (<c>-http_proxy</c> and the <c>http_proxy</c> variable).</summary>
    public string Address => $"http://127.0.0.1:{Port}";

    /// <summary>Targets refused so far (the first few), oldest first.</summary>
    public IReadOnlyList<EgressRefusal> Refusals => [.. _refusals];

    /// <summary>Starts listening on 127.0.0.1 on a free port; <paramref name="source"/> (redacted) names the source in logs.</summary>
    public static EgressProxy Start(IEgressPolicy policy, string source, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(policy);
        return new EgressProxy(policy, source, logger);
    }

    /// <summary>Stops listening and ends every relay.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_stop.IsCancellationRequested)
        {
            return;
        }
        await _stop.CancelAsync().ConfigureAwait(false);
        _listener.Stop();
        await _accepting.ConfigureAwait(false);
        await Task.WhenAll(_connections.Keys).ConfigureAwait(false);
        _stop.Dispose();
        _slots.Dispose();
    }

    private async Task AcceptAsync(CancellationToken token)
    {
        while (!token.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptSocketAsync(token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }
            if (!_slots.Wait(0))
            {
                EgressLog.TooManyConnections(_logger, _source, MaxConnections);
                Answer(client, "503 Service Unavailable");
                client.Dispose();
                continue;
            }
            var connection = ServeAsync(client, token);
            _connections[connection] = true;
            _ = connection.ContinueWith(done => _connections.TryRemove(done, out _), CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
    }

    private async Task ServeAsync(Socket client, CancellationToken token)
    {
        try
        {
            using (client)
            {
                await RelayOneAsync(client, token).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or IOException or ObjectDisposedException)
        {
            // The client, the target or Dispose ended the connection.
        }
        finally
        {
            ReleaseSlot();
        }
    }

    private void ReleaseSlot()
    {
        try
        {
            _slots.Release();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private async Task RelayOneAsync(Socket client, CancellationToken token)
    {
        var (head, extra) = await ReadHeadAsync(client, token).ConfigureAwait(false);
        if (head is null)
        {
            EgressLog.BadRequest(_logger, _source, "request head missing or over " + ProxyRequestHead.MaxBytes + " bytes");
            Answer(client, "400 Bad Request");
            return;
        }
        if (ProxyRequestHead.Parse(head, out var problem) is not { } request)
        {
            EgressLog.BadRequest(_logger, _source, problem!);
            Answer(client, "400 Bad Request");
            return;
        }
        var decision = await CheckAsync(request.Host, request.Port, token).ConfigureAwait(false);
        if (!decision.IsAllowed)
        {
            if (_refusals.Count < MaxRecordedRefusals)
            {
                _refusals.Enqueue(new EgressRefusal(request.Host, request.Port, decision.Reason!, decision.IsTransient));
            }
            EgressLog.Refused(_logger, _source, request.Host, request.Port, decision.Reason!);
            Answer(client, "403 Forbidden");
            return;
        }
        using var upstream = await ConnectAsync(decision.Addresses, request, token).ConfigureAwait(false);
        if (upstream is null)
        {
            Answer(client, "502 Bad Gateway");
            return;
        }
        EgressLog.Relaying(_logger, _source, request.Method, request.Host, request.Port);
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

    private async ValueTask<EgressDecision> CheckAsync(string host, int port, CancellationToken token)
    {
        try
        {
            return await _policy.CheckAsync(host, port, token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // A failing check must fail closed.
            return EgressDecision.Refused($"host '{host}:{port}' could not be checked");
        }
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

    private async Task<Socket?> ConnectAsync(IReadOnlyList<IPAddress> addresses, ProxyRequestHead request, CancellationToken token)
    {
        foreach (var address in addresses)
        {
            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(token);
            timeout.CancelAfter(ConnectTimeout);
            try
            {
                await socket.ConnectAsync(new IPEndPoint(address, request.Port), timeout.Token).ConfigureAwait(false);
                return socket;
            }
            catch (Exception ex) when (ex is SocketException or OperationCanceledException && !token.IsCancellationRequested)
            {
                socket.Dispose();
                EgressLog.ConnectFailed(_logger, _source, request.Host, request.Port, ex is SocketException s ? s.SocketErrorCode.ToString() : "timed out");
            }
        }
        return null;
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

    private static void TryShutdown(Socket socket)
    {
        try
        {
            socket.Shutdown(SocketShutdown.Send);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
        }
    }
}
