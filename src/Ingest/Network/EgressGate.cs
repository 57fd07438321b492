using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using StreamMtl.Ingest.Sources;

namespace StreamMtl.Ingest.Network;

/// <summary>
/// A loopback listener that one ffmpeg child reaches the network through: each connection is served by the subclass's
/// protocol, which asks the <see cref="IEgressPolicy"/> about every target and connects to the addresses the policy
/// resolved (never a second DNS lookup). Refused targets are recorded so the source can say which host it was refused.
/// </summary>
public abstract class EgressGate : IAsyncDisposable
{
    private const int MaxRecordedRefusals = 16;
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(5);

    private readonly TcpListener _listener;
    private readonly IEgressPolicy _policy;
    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _slots;
    private readonly ConcurrentQueue<EgressRefusal> _refusals = new();
    private readonly ConcurrentDictionary<Task, bool> _connections = new();
    private Task _accepting = Task.CompletedTask;

    /// <param name="source">The source, redacted, as logs name it.</param>
    /// <param name="maxConnections">Connections relayed at once; more are turned away (<see cref="TurnAway"/>).</param>
    protected EgressGate(IEgressPolicy policy, string source, ILogger? logger, int maxConnections)
    {
        ArgumentNullException.ThrowIfNull(policy);
        _policy = policy;
        Source = source;
        Logger = logger ?? NullLogger.Instance;
        MaxConnections = maxConnections;
        _slots = new SemaphoreSlim(maxConnections, maxConnections);
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start(maxConnections);
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
    }

    /// <summary>The loopback port the gate listens on.</summary>
    public int Port { get; }

    /// <summary>Connections relayed at once.</summary>
    public int MaxConnections { get; }

    /// <summary>Targets refused so far (the first few), oldest first.</summary>
    public IReadOnlyList<EgressRefusal> Refusals => [.. _refusals];

    protected string Source { get; }

    protected ILogger Logger { get; }

    /// <summary>Starts accepting; called once by the subclass's factory, after its own fields are set.</summary>
    protected void Open() => _accepting = AcceptAsync(_stop.Token);

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
        GC.SuppressFinalize(this);
    }

    /// <summary>Serves one accepted connection (the gate disposes the socket afterwards).</summary>
    protected abstract Task ServeAsync(Socket client, CancellationToken token);

    /// <summary>Answers a connection over <see cref="MaxConnections"/> before it is closed.</summary>
    protected virtual void TurnAway(Socket client)
    {
    }

    /// <summary>Asks the policy; a check that throws fails closed. Refusals are recorded and logged.</summary>
    protected async ValueTask<EgressDecision> CheckAsync(string host, int port, CancellationToken token)
    {
        EgressDecision decision;
        try
        {
            decision = await _policy.CheckAsync(host, port, token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            decision = EgressDecision.Refused($"host '{host}:{port}' could not be checked");
        }
        if (!decision.IsAllowed)
        {
            Record(new EgressRefusal(host, port, decision.Reason!, decision.IsTransient));
        }
        return decision;
    }

    /// <summary>Records (and logs) a refusal the subclass decided on itself.</summary>
    protected void Record(EgressRefusal refusal)
    {
        if (_refusals.Count < MaxRecordedRefusals)
        {
            _refusals.Enqueue(refusal);
        }
        EgressLog.Refused(Logger, Source, refusal.Host, refusal.Port, refusal.Reason);
    }

    /// <summary>Connects to the first of the policy's <paramref name="addresses"/> that answers within 5 s; null when none does.</summary>
    protected async Task<Socket?> ConnectAsync(IReadOnlyList<IPAddress> addresses, string host, int port, CancellationToken token)
    {
        foreach (var address in addresses)
        {
            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(token);
            timeout.CancelAfter(ConnectTimeout);
            try
            {
                await socket.ConnectAsync(new IPEndPoint(address, port), timeout.Token).ConfigureAwait(false);
                return socket;
            }
            catch (Exception ex) when (ex is SocketException or OperationCanceledException && !token.IsCancellationRequested)
            {
                socket.Dispose();
                EgressLog.ConnectFailed(Logger, Source, host, port, ex is SocketException s ? s.SocketErrorCode.ToString() : "timed out");
            }
        }
        return null;
    }

    /// <summary>Sends FIN, so what was relayed is not cut by a reset.</summary>
    protected static void TryShutdown(Socket socket)
    {
        try
        {
            socket.Shutdown(SocketShutdown.Send);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
        }
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
                EgressLog.TooManyConnections(Logger, Source, MaxConnections);
                TurnAway(client);
                client.Dispose();
                continue;
            }
            var connection = ServeOwnedAsync(client, token);
            _connections[connection] = true;
            _ = connection.ContinueWith(done => _connections.TryRemove(done, out _), CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
    }

    private async Task ServeOwnedAsync(Socket client, CancellationToken token)
    {
        try
        {
            using (client)
            {
                await ServeAsync(client, token).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or IOException or ObjectDisposedException)
        {
            // The client, the target or Dispose ended the connection.
        }
        finally
        {
            try
            {
                _slots.Release();
            }
            catch (ObjectDisposedException)
            {
            }
        }
    }
}
