using System.Net;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text;
using Encoding = System.Text.Encoding;
using System.Text.Json.Nodes;
using StreamMtl.Api.V1;
using StreamMtl.Server.Tests.Infrastructure;
using StreamMtl.Server.Web;
using Xunit.Abstractions;
using Task = System.Threading.Tasks.Task;

namespace StreamMtl.Server.Tests.Web;

/// <summary>The web view's HTTP API and WebSocket on real loopback sockets, without a browser.</summary>
[Collection(WebViewTests.Collection)]
public sealed class WebApiTests(ITestOutputHelper output)
{
    private static string Synthetic(int seed, int fps = 5) => $"synthetic://static?seed={seed}&w=160&h=128&fps={fps}";

    [Fact]
    public async Task Web_api_answers_with_grpc_rules_and_http_statuses()
    {
        await using var server = await ServerUnderTest.StartOnSocketsAsync();
        using var http = new HttpClient { BaseAddress = new Uri(server.MetricsUrl) };
        http.DefaultRequestHeaders.Add("Origin", server.MetricsUrl);

        await Expect(HttpStatusCode.BadRequest, "bad JSON", await http.PostAsync("/api/streams", new StringContent("{bad", Encoding.UTF8, "application/json")));
        await Expect(HttpStatusCode.BadRequest, "unknown task", await http.PostAsJsonAsync("/api/streams", new { id = "a", uri = Synthetic(1), tasks = new[] { "colour" } }));
        await Expect(HttpStatusCode.BadRequest, "", await http.PostAsJsonAsync("/api/streams", new { id = "a", uri = "bogus://x" }));
        await Expect(HttpStatusCode.BadRequest, "bad field", await http.PostAsJsonAsync("/api/streams", new { id = "a", uri = Synthetic(1), reuse = new { threshold = "x" } }));
        var badReuse = new AddStreamRequest { Id = "a", SourceUri = Synthetic(1), Reuse = new ReuseSettings { Budget = 7 } };
        var rpc = await Assert.ThrowsAsync<Grpc.Core.RpcException>(() => server.Client.AddStreamAsync(badReuse).ResponseAsync);
        await Expect(HttpStatusCode.BadRequest, rpc.Status.Detail, await http.PostAsJsonAsync("/api/streams", new { id = "a", uri = Synthetic(1), reuse = new { budget = 7 } }));
        await Expect(HttpStatusCode.BadRequest, "floor (reduced) must not be above level (minimal)", await http.PostAsJsonAsync("/api/streams",
            new { id = "a", uri = Synthetic(1), reuse = new { level = "COMPUTE_LEVEL_MINIMAL", adaptive = true, floor = "COMPUTE_LEVEL_REDUCED" } }));
        await Expect(HttpStatusCode.NotFound, "no stream 'nope'", await http.DeleteAsync("/api/streams/nope"));
        await Expect(HttpStatusCode.NotFound, "no stream 'nope'", await http.GetAsync("/api/streams/nope/snapshot.png"));
        await Expect(HttpStatusCode.BadRequest, "unknown layer", await http.GetAsync("/api/streams/nope/snapshot.png?layers=x"));
        using (var crossSite = new HttpRequestMessage(HttpMethod.Post, "/api/streams") { Content = JsonContent.Create(new { id = "a", uri = Synthetic(1) }) })
        {
            crossSite.Headers.Add("Origin", "http://evil.example");
            await Expect(HttpStatusCode.Forbidden, "cross-origin", await http.SendAsync(crossSite));
        }

        var added = await http.PostAsJsonAsync("/api/streams", new { id = "cam1", uri = Synthetic(1), tasks = new[] { "segmentation", "depth" } });
        Assert.Equal(HttpStatusCode.Created, added.StatusCode);
        var list = await http.GetFromJsonAsync<JsonObject>("/api/streams");
        Assert.Equal("cam1", list!["streams"]![0]!["id"]!.GetValue<string>());

        using var snapshot = await http.GetAsync("/api/streams/cam1/snapshot.png?layers=seg,depth");
        Assert.Equal(HttpStatusCode.OK, snapshot.StatusCode);
        using var image = OpenCvSharp.Cv2.ImDecode(await snapshot.Content.ReadAsByteArrayAsync(), OpenCvSharp.ImreadModes.Color);
        Assert.Equal((2 * 160, 128), (image.Width, image.Height));
        await Expect(HttpStatusCode.BadRequest, "not served here", await http.GetAsync("/api/streams/cam1/snapshot.png?layers=normals"));

        Assert.Equal(HttpStatusCode.NoContent, (await http.DeleteAsync("/api/streams/cam1")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/metrics")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/healthz")).StatusCode);
    }

    [Fact]
    public async Task Web_api_shares_the_per_client_call_rate_with_grpc()
    {
        await using var server = await ServerUnderTest.StartOnSocketsAsync(new Dictionary<string, string?>
        {
            ["StreamMtl:Limits:CallsPerSecondPerClient"] = "0.01",
            ["StreamMtl:Limits:CallBurstPerClient"] = "1",
        });
        using var http = new HttpClient { BaseAddress = new Uri(server.MetricsUrl) };
        http.DefaultRequestHeaders.Add("Origin", server.MetricsUrl);

        await Expect(HttpStatusCode.NotFound, "no stream", await http.DeleteAsync("/api/streams/a"));
        await Expect(HttpStatusCode.TooManyRequests, "too many calls from this client", await http.DeleteAsync("/api/streams/a"));
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/api/streams")).StatusCode);
    }

    [Fact]
    public async Task Web_socket_refuses_other_origins_and_viewers_over_the_limit()
    {
        await using var server = await ServerUnderTest.StartOnSocketsAsync(new Dictionary<string, string?> { ["StreamMtl:Limits:MaxWebViewers"] = "1" });

        var crossSite = await Assert.ThrowsAsync<WebSocketException>(() => Viewer.ConnectAsync(server.MetricsUrl, "http://evil.example"));
        output.WriteLine($"cross-origin: {crossSite.Message}");
        await using var first = await Viewer.ConnectAsync(server.MetricsUrl, server.MetricsUrl);
        var second = await Assert.ThrowsAsync<WebSocketException>(() => Viewer.ConnectAsync(server.MetricsUrl, server.MetricsUrl));
        output.WriteLine($"over the limit: {second.Message}");
        Assert.Contains("429", second.Message + second.InnerException?.Message);
    }

    [Fact]
    public async Task Web_slow_viewer_does_not_stop_a_fast_one()
    {
        await using var server = await ServerUnderTest.StartOnSocketsAsync();
        await server.Client.AddStreamAsync(new AddStreamRequest { Id = "cam1", SourceUri = Synthetic(1, fps: 10), AlwaysOn = true });
        var window = TimeSpan.FromSeconds(8);
        await using var fast = await Viewer.ConnectAsync(server.MetricsUrl, server.MetricsUrl);
        await fast.ShowAsync("cam1", "segmentation");
        await fast.WaitForFramesAsync(3, TimeSpan.FromSeconds(60));
        long alone = await fast.CountOverAsync(window);

        // The same spec as the fast viewer (no extra inference): only its reading pace differs, one message per second.
        await using var slow = await Viewer.ConnectAsync(server.MetricsUrl, server.MetricsUrl, readDelay: TimeSpan.FromSeconds(1));
        await slow.ShowAsync("cam1", "segmentation");
        await Task.Delay(TimeSpan.FromSeconds(2));
        long beside = await fast.CountOverAsync(window);
        string line = $"fast viewer alone {alone / window.TotalSeconds:0.0} fps, beside a slow viewer {beside / window.TotalSeconds:0.0} fps " +
            $"({(alone == 0 ? 0 : 100.0 * (beside - alone) / alone):+0;-0} %); slow viewer received {slow.Frames}, dropped for it {slow.LastDropped}";
        output.WriteLine(line);
        Directory.CreateDirectory(WebViewTests.Artefacts);
        await File.WriteAllTextAsync(Path.Combine(WebViewTests.Artefacts, "slow-viewer.txt"), line + "\n");

        Assert.True(beside > 0, "the fast viewer stopped receiving frames beside a slow one");
        Assert.True(beside * 4 >= alone, $"the fast viewer fell from {alone} to {beside} frames per {window.TotalSeconds} s beside a slow one");
    }

    [Fact]
    public async Task Web_socket_says_when_a_stream_ends_and_resubscribes_when_it_is_back()
    {
        await using var server = await ServerUnderTest.StartOnSocketsAsync();
        await server.Client.AddStreamAsync(new AddStreamRequest { Id = "cam1", SourceUri = Synthetic(1) });
        await using var viewer = await Viewer.ConnectAsync(server.MetricsUrl, server.MetricsUrl);
        await viewer.ShowAsync("nope", "segmentation");
        await viewer.WaitForNoticeAsync("error: no stream 'nope'");

        await viewer.ShowAsync("cam1", "segmentation");
        await viewer.WaitForFramesAsync(2, TimeSpan.FromSeconds(60));
        await server.Client.RemoveStreamAsync(new RemoveStreamRequest { Id = "cam1" });
        await viewer.WaitForNoticeAsync("ended: ");

        await server.Client.AddStreamAsync(new AddStreamRequest { Id = "cam1", SourceUri = Synthetic(1) });
        long before = viewer.Frames;
        await viewer.ShowAsync("cam1", "segmentation");
        await viewer.WaitForFramesAsync((int)before + 2, TimeSpan.FromSeconds(60));
    }

    private static async Task Expect(HttpStatusCode status, string message, HttpResponseMessage response)
    {
        using (response)
        {
            string body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == status, $"expected {status}, got {response.StatusCode}: {body}");
            Assert.Contains(message, JsonNode.Parse(body)!["error"]!.GetValue<string>());
        }
    }

    /// <summary>A viewer connection as a page opens it; reads at full speed or one message per <c>readDelay</c>.</summary>
    private sealed class Viewer : IAsyncDisposable
    {
        private readonly ClientWebSocket _socket;
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _reader;
        private long _frames;

        private Viewer(ClientWebSocket socket, TimeSpan readDelay)
        {
            _socket = socket;
            _reader = Task.Run(() => ReadAsync(readDelay));
        }

        public long Frames => Interlocked.Read(ref _frames);
        public System.Collections.Concurrent.ConcurrentQueue<string> Notices { get; } = new();

        public async Task WaitForNoticeAsync(string text)
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
            while (!Notices.Any(n => n.Contains(text, StringComparison.Ordinal)))
            {
                Assert.True(DateTime.UtcNow < deadline, $"no notice with {text}; got: {string.Join(" | ", Notices)}");
                await Task.Delay(50);
            }
        }
        public long LastDropped { get; private set; }

        public static async Task<Viewer> ConnectAsync(string server, string origin, TimeSpan readDelay = default)
        {
            var socket = new ClientWebSocket();
            socket.Options.SetRequestHeader("Origin", origin);
            // A small receive buffer so that a slow reader's backlog stays on the server (where it is dropped), not in this process.
            socket.Options.SetBuffer(4096, 4096);
            try
            {
                await socket.ConnectAsync(new Uri(server.Replace("http://", "ws://") + "/ws"), CancellationToken.None);
            }
            catch
            {
                socket.Dispose();
                throw;
            }
            return new Viewer(socket, readDelay);
        }

        public Task ShowAsync(string stream, params string[] tasks) => _socket.SendAsync(Encoding.UTF8.GetBytes(
            new JsonObject { ["show"] = new JsonObject { [stream] = new JsonArray(tasks.Select(t => (JsonNode)t).ToArray()) } }.ToJsonString()),
            WebSocketMessageType.Text, true, CancellationToken.None);

        public async Task WaitForFramesAsync(int count, TimeSpan timeout)
        {
            var deadline = DateTime.UtcNow + timeout;
            while (Frames < count)
            {
                Assert.True(DateTime.UtcNow < deadline, $"only {Frames} frames within {timeout.TotalSeconds} s");
                await Task.Delay(50);
            }
        }

        public async Task<long> CountOverAsync(TimeSpan window)
        {
            long start = Frames;
            await Task.Delay(window);
            return Frames - start;
        }

        private async Task ReadAsync(TimeSpan readDelay)
        {
            var buffer = new byte[1 << 20];
            try
            {
                while (!_stop.IsCancellationRequested)
                {
                    int length = 0;
                    ValueWebSocketReceiveResult received;
                    do
                    {
                        received = await _socket.ReceiveAsync(buffer.AsMemory(length), _stop.Token);
                        length += received.Count;
                    }
                    while (!received.EndOfMessage);
                    if (received.MessageType == WebSocketMessageType.Close)
                    {
                        return;
                    }
                    if (received.MessageType == WebSocketMessageType.Text)
                    {
                        var notice = JsonNode.Parse(buffer.AsSpan(0, length))!;
                        Notices.Enqueue($"{notice["type"]}: {notice["message"]}");
                    }
                    if (received.MessageType == WebSocketMessageType.Binary)
                    {
                        LastDropped = ViewerMessage.Decode(buffer.AsSpan(0, length)).Dropped;
                        Interlocked.Increment(ref _frames);
                    }
                    if (readDelay > TimeSpan.Zero)
                    {
                        await Task.Delay(readDelay, _stop.Token);
                    }
                }
            }
            catch (Exception e) when (e is OperationCanceledException or WebSocketException)
            {
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            await _reader;
            _socket.Dispose();
            _stop.Dispose();
        }
    }
}
