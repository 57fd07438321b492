using System.Buffers.Binary;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging;
using StreamMtl.Ingest.Sources;

namespace StreamMtl.Ingest.Network;

/// <summary>
/// The RTSP counterpart of <see cref="EgressProxy"/> for one ffmpeg child: ffmpeg opens <see cref="Url"/> (the source's
/// URL on a loopback port) with interleaved TCP transport, so the control connection and the media both pass here. The
/// relay connects to the addresses the policy resolved for the source's own host (no second DNS lookup), writes the
/// source's authority back into request lines, and ends the session on any <c>3xx</c> answer: ffmpeg would follow a
/// redirect on a connection of its own, out of the policy's sight, so redirects are refused and recorded instead.
/// </summary>
public sealed class RtspEgressRelay : EgressGate
{
    /// <summary>Connections relayed at once: ffmpeg uses one control connection, and reconnects after a failure.</summary>
    public const int Connections = 2;

    private const int MaxHead = 16 * 1024;

    private readonly string _host;
    private readonly int _port;
    private readonly string _authority;

    private RtspEgressRelay(IEgressPolicy policy, Uri url, string host, int port, string source, ILogger? logger)
        : base(policy, source, logger, Connections)
    {
        _host = host;
        _port = port;
        _authority = $"{url.Scheme}://{url.Authority}";
        var local = new UriBuilder(url) { Host = "127.0.0.1", Port = Port };
        Url = local.Uri.AbsoluteUri;
        LocalAuthority = $"{url.Scheme}://127.0.0.1:{Port}";
    }

    /// <summary>What ffmpeg opens: the source URL (path, query and credentials kept) on the relay's loopback port.</summary>
    public string Url { get; }

    private string LocalAuthority { get; }

    /// <summary>Starts a relay for the rtsp:// <paramref name="url"/>; null when the URL has no host.</summary>
    public static RtspEgressRelay? Start(IEgressPolicy policy, string url, string source, ILogger? logger = null)
    {
        if (EgressTarget.Of(url) is not (var host, var port) || !Uri.TryCreate(url, UriKind.Absolute, out var uri))
        {
            return null;
        }
        var relay = new RtspEgressRelay(policy, uri, host, port, source, logger);
        relay.Open();
        return relay;
    }

    protected override async Task ServeAsync(Socket client, CancellationToken token)
    {
        var decision = await CheckAsync(_host, _port, token).ConfigureAwait(false);
        if (!decision.IsAllowed)
        {
            return;
        }
        using var upstream = await ConnectAsync(decision.Addresses, _host, _port, token).ConfigureAwait(false);
        if (upstream is null)
        {
            return;
        }
        EgressLog.Relaying(Logger, Source, "RTSP", _host, _port);
        using var both = CancellationTokenSource.CreateLinkedTokenSource(token);
        await using var clientStream = new NetworkStream(client, ownsSocket: false);
        await using var upstreamStream = new NetworkStream(upstream, ownsSocket: false);
        var up = PumpAsync(clientStream, upstreamStream, RewriteRequest, both.Token);
        var down = PumpAsync(upstreamStream, clientStream, CheckResponse, both.Token);
        await Task.WhenAny(up, down).ConfigureAwait(false);
        await both.CancelAsync().ConfigureAwait(false);
        try
        {
            await Task.WhenAll(up, down).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or SocketException or ObjectDisposedException or InvalidDataException)
        {
        }
        TryShutdown(client);
    }

    /// <summary>A request line naming the relay gets the source's scheme and authority back.</summary>
    private string? RewriteRequest(string head)
    {
        int lineEnd = head.IndexOf("\r\n", StringComparison.Ordinal);
        var line = lineEnd < 0 ? head : head[..lineEnd];
        var rewritten = line.Replace(" " + LocalAuthority, " " + _authority, StringComparison.OrdinalIgnoreCase);
        return rewritten + (lineEnd < 0 ? "" : head[lineEnd..]);
    }

    /// <summary>Ends the session (null) on a redirect, recording where it pointed; other answers pass unchanged.</summary>
    private string? CheckResponse(string head)
    {
        if (RtspMessage.StatusCode(head) is not (>= 300 and < 400))
        {
            return head;
        }
        var location = RtspMessage.Header(head, "Location");
        var target = location is null ? null : EgressTarget.Of(location);
        Record(new EgressRefusal(target?.Host ?? _host, target?.Port ?? _port,
            $"RTSP redirect to '{(target is (var h, var p) ? $"{h}:{p}" : "(no location)")}' not followed (redirects are refused for API-added sources)", Transient: false));
        return null;
    }

    /// <summary>
    /// Copies RTSP messages from <paramref name="from"/> to <paramref name="to"/>: interleaved frames (<c>$</c>, channel,
    /// 16-bit length, data) as they are, text messages through <paramref name="head"/> (null ends the session) with their
    /// <c>Content-Length</c> body.
    /// </summary>
    private static async Task PumpAsync(Stream from, Stream to, Func<string, string?> head, CancellationToken token)
    {
        var reader = new RtspMessage.Reader(from);
        var frame = new byte[4 + ushort.MaxValue];
        while (true)
        {
            int first = await reader.PeekAsync(token).ConfigureAwait(false);
            if (first < 0)
            {
                return;
            }
            if (first == '$')
            {
                await reader.ReadExactlyAsync(frame.AsMemory(0, 4), token).ConfigureAwait(false);
                int length = BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(2, 2));
                await reader.ReadExactlyAsync(frame.AsMemory(4, length), token).ConfigureAwait(false);
                await to.WriteAsync(frame.AsMemory(0, 4 + length), token).ConfigureAwait(false);
                continue;
            }
            var text = await reader.ReadHeadAsync(MaxHead, token).ConfigureAwait(false);
            var forwarded = head(text);
            if (forwarded is null)
            {
                return;
            }
            await to.WriteAsync(Encoding.Latin1.GetBytes(forwarded + "\r\n\r\n"), token).ConfigureAwait(false);
            long body = RtspMessage.Header(text, "Content-Length") is { } value && long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n)
                ? n : 0;
            if (body > MaxHead * 4)
            {
                throw new InvalidDataException($"RTSP body of {body} bytes");
            }
            var bytes = new byte[body];
            await reader.ReadExactlyAsync(bytes, token).ConfigureAwait(false);
            await to.WriteAsync(bytes, token).ConfigureAwait(false);
        }
    }
}
