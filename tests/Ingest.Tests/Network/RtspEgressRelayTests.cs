using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using StreamMtl.Ingest.Network;
using StreamMtl.Ingest.Sources;
using StreamMtl.Ingest.Supervision;
using StreamMtl.Ingest.Tests.Infrastructure;

namespace StreamMtl.Ingest.Tests.Network;

/// <summary>
/// An rtsp source with an egress policy runs through <see cref="RtspEgressRelay"/>: it plays from the allowed camera, and
/// a camera answering with a redirect never gets ffmpeg to the redirect's target (real ffmpeg, a real GStreamer RTSP
/// server, a loopback RTSP responder that redirects, and a listener counting every connection it gets).
/// </summary>
[Collection(RtspCollection.Name)]
public sealed class RtspEgressRelayTests(TestClip clip)
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);
    private readonly FrameSourceFactory _factory = new();

    [Fact]
    public async Task An_allowed_camera_plays_through_the_relay_over_its_pinned_address()
    {
        using var server = new RtspServer(clip.Path);
        server.Start();
        var policy = new LoopbackPortPolicy(server.Port);
        var source = _factory.Create(server.Url, new SourceOptions { Egress = policy, RtspTransport = RtspTransport.Udp });

        var frames = await Eventually.Within(SourceReads.CountAsync(source, 5), Bound);

        Assert.Equal(5, frames);
        Assert.Equal(TestClip.Width, source.Info.Width);
        // Checked at the door and again by the relay when ffmpeg connected; nothing else was asked for.
        Assert.True(policy.Checked.Count >= 2, string.Join(", ", policy.Checked));
        Assert.All(policy.Checked, target => Assert.Equal($"127.0.0.1:{server.Port}", target));
        Assert.Empty(ChildProcesses.Matching($"127.0.0.1:{server.Port}"));
    }

    [Fact]
    public async Task A_camera_redirecting_elsewhere_fails_the_source_and_the_target_gets_no_connection()
    {
        using var hidden = new CountingListener();
        await using var camera = new RedirectingCamera($"rtsp://127.0.0.1:{hidden.Port}/secret");
        var source = _factory.Create($"rtsp://127.0.0.1:{camera.Port}/cam", new SourceOptions { Egress = new LoopbackPortPolicy(camera.Port) });

        var error = await Assert.ThrowsAsync<SourceException>(() => Eventually.Within(SourceReads.CountAsync(source, 1), Bound));

        Assert.Equal(SourceErrorKind.Forbidden, error.Kind);
        Assert.Contains($"RTSP redirect to '127.0.0.1:{hidden.Port}' not followed", error.Message);
        Assert.Contains("redirect or playlist", error.Message);
        Assert.True(camera.Requests.Count >= 2, string.Join(" | ", camera.Requests));
        // The request lines carry the camera's own address, not the relay's loopback port.
        Assert.All(camera.Requests, line => Assert.Contains($"rtsp://127.0.0.1:{camera.Port}/cam", line));
        Assert.Equal(0, hidden.Accepted);
    }

    [Fact]
    public void Response_heads_give_their_status_and_headers()
    {
        const string head = "RTSP/1.0 302 Moved Temporarily\r\nCSeq: 2\r\nlocation:  rtsp://10.0.0.1:8554/x \r\nContent-Length: 0";

        Assert.Equal(302, RtspMessage.StatusCode(head));
        Assert.Equal("rtsp://10.0.0.1:8554/x", RtspMessage.Header(head, "Location"));
        Assert.Null(RtspMessage.Header(head, "Session"));
        Assert.Null(RtspMessage.StatusCode("DESCRIBE rtsp://x/ RTSP/1.0\r\nCSeq: 1"));
        Assert.Null(RtspMessage.StatusCode("RTSP/1.0 abc"));
    }

    /// <summary>Counts the connections made to it and closes them.</summary>
    private sealed class CountingListener : IDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private int _accepted;

        public CountingListener()
        {
            _listener.Start();
            Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
            _ = AcceptAsync();
        }

        public int Port { get; }

        public int Accepted => Volatile.Read(ref _accepted);

        public void Dispose() => _listener.Stop();

        private async Task AcceptAsync()
        {
            try
            {
                while (true)
                {
                    using var socket = await _listener.AcceptSocketAsync();
                    Interlocked.Increment(ref _accepted);
                }
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
            }
        }
    }

    /// <summary>An RTSP responder that answers OPTIONS and redirects everything else to <c>location</c>.</summary>
    private sealed class RedirectingCamera : IAsyncDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly CancellationTokenSource _stop = new();
        private readonly string _location;
        private readonly Task _serving;

        public RedirectingCamera(string location)
        {
            _location = location;
            _listener.Start();
            Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
            _serving = ServeAsync(_stop.Token);
        }

        public int Port { get; }

        /// <summary>The request lines received.</summary>
        public ConcurrentQueue<string> Requests { get; } = new();

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _listener.Stop();
            await _serving;
            _stop.Dispose();
        }

        private async Task ServeAsync(CancellationToken token)
        {
            try
            {
                while (true)
                {
                    using var socket = await _listener.AcceptSocketAsync(token);
                    await using var stream = new NetworkStream(socket);
                    using var reader = new StreamReader(stream, Encoding.Latin1);
                    while (await reader.ReadLineAsync(token) is { } line)
                    {
                        Requests.Enqueue(line);
                        string? cseq = null;
                        while (await reader.ReadLineAsync(token) is { Length: > 0 } header)
                        {
                            if (header.StartsWith("CSeq:", StringComparison.OrdinalIgnoreCase))
                            {
                                cseq = header[5..].Trim();
                            }
                        }
                        var answer = line.StartsWith("OPTIONS", StringComparison.Ordinal)
                            ? $"RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\nPublic: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN\r\n\r\n"
                            : $"RTSP/1.0 302 Moved Temporarily\r\nCSeq: {cseq}\r\nLocation: {_location}\r\nContent-Length: 0\r\n\r\n";
                        await stream.WriteAsync(Encoding.ASCII.GetBytes(answer), token);
                    }
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or IOException or ObjectDisposedException)
            {
            }
        }
    }
}
