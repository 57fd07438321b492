using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Grpc.Core;
using StreamMtl.Api.V1;
using StreamMtl.Server.Tests.Infrastructure;
using Xunit.Abstractions;
using Task = System.Threading.Tasks.Task;

namespace StreamMtl.Server.Tests.Web;

/// <summary>
/// The real page in a real headless Chromium against the real service on loopback sockets: two synthetic streams,
/// layers, readouts, the add form, errors, login. Screenshots go to artefacts/web under the test output.
/// </summary>
[Collection(WebViewTests.Collection)]
public sealed class WebViewTests(ITestOutputHelper output)
{
    private const string Key = "web-view-key-0123456789";
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(90);

    /// <summary>The web tests run one at a time, so the latency and frame-rate figures they log are not each other's load.</summary>
    public const string Collection = "web view on sockets";

    public static string Artefacts => Path.Combine(AppContext.BaseDirectory, "artefacts", "web");

    private static string Synthetic(int seed, int fps = 5) => $"synthetic://static?seed={seed}&w=160&h=128&fps={fps}";

    [Fact]
    public async Task Web_page_shows_streams_layers_readouts_and_the_add_form()
    {
        Assert.True(Chromium.Executable() != null, "chromium is not installed: scripts/install-deps.sh test");
        await using var server = await ServerUnderTest.StartOnSocketsAsync();
        await server.Client.AddStreamAsync(new AddStreamRequest { Id = "cam1", SourceUri = Synthetic(1) });
        await server.Client.AddStreamAsync(new AddStreamRequest { Id = "cam2", SourceUri = Synthetic(2) });
        await using var browser = await Chromium.StartAsync();
        var page = await browser.NewPageAsync();
        try
        {
            await page.NavigateAsync(server.MetricsUrl + "/");
            await page.WaitForAsync("document.querySelectorAll('.tile').length === 2", Patience);
            await page.WaitForAsync(Painted("cam1", 3) + " && " + Painted("cam2", 3), Patience);
            await page.ScreenshotAsync(Path.Combine(Artefacts, "grid.png"));

            // Segmentation alone at full opacity: the overlay's pixels are the model's class colours.
            var colours = (await page.EvaluateAsync("fetch('/api/model').then(r => r.json()).then(m => m.classes.map(c => c.color))"))!.AsArray()
                .Select(c => c!.GetValue<uint>()).ToHashSet();
            foreach (var id in new[] { "cam1", "cam2" })
            {
                await page.EvaluateAsync($"(() => {{ const t = {Tile(id)}; const o = t.querySelector('.opacity input'); o.value = 100; o.dispatchEvent(new Event('input'));" +
                    "const i = t.querySelector('[data-layer=input]'); i.checked = false; i.dispatchEvent(new Event('change')); return true; })()");
                await page.WaitForAsync(Painted(id, await PaintedCount(page, id) + 2), Patience);
                var pixels = await Pixels(page, id);
                double share = pixels.Count(colours.Contains) / (double)pixels.Count;
                output.WriteLine($"{id}: {share:P1} of {pixels.Count} pixels carry a class colour");
                Assert.True(share > 0.99, $"{id}: only {share:P1} of the overlay's pixels are class colours");
            }

            // The readouts update: fps above zero, FLOPs saved as a percentage, tokens recomputed.
            await page.WaitForAsync($"parseFloat({Tile("cam1")}.querySelector('.fps').textContent) > 0", Patience);
            await page.WaitForAsync($"{Tile("cam1")}.querySelector('.saved').textContent.endsWith('%')", Patience);
            string before = (await page.EvaluateAsync($"{Tile("cam1")}.querySelector('.saved').textContent + ' / ' + {Tile("cam1")}.querySelector('.tokens').textContent"))!.ToString();
            output.WriteLine($"cam1 readouts: FLOPs saved / tokens {before}");
            // The compute readout: a stream with no budget or level set runs in full at budget 1.
            await page.WaitForAsync($"{Tile("cam1")}.querySelector('.compute').textContent === 'full · budget 1.00'", Patience);

            // Toggling a layer changes the picture: depth adds a panel beside the segmentation.
            int width = (await page.EvaluateAsync($"{Tile("cam1")}.querySelector('canvas.frame').width"))!.GetValue<int>();
            await page.EvaluateAsync($"(() => {{ const d = {Tile("cam1")}.querySelector('[data-layer=depth]'); d.checked = true; d.dispatchEvent(new Event('change')); return true; }})()");
            await page.WaitForAsync($"{Tile("cam1")}.querySelector('canvas.frame').width === {2 * width}", Patience);
            await page.WaitForAsync(Painted("cam1", await PaintedCount(page, "cam1") + 2), Patience);
            var depthPanel = (await Pixels(page, "cam1")).Where((_, i) => i % (2 * width) >= width).ToList();
            Assert.True(depthPanel.Count(p => p != 0) > depthPanel.Count / 2, "the depth panel is mostly black");
            Assert.True(depthPanel.Count(p => !colours.Contains(p)) > depthPanel.Count / 2, "the depth panel shows class colours, not depth");
            await page.ScreenshotAsync(Path.Combine(Artefacts, "layers.png"));
            await page.EvaluateAsync($"(() => {{ const o = {Tile("cam1")}.querySelector('[data-layer=overlay]'); o.checked = true; o.dispatchEvent(new Event('change')); return true; }})()");
            await page.WaitForAsync($"{Tile("cam1")}.querySelector('canvas.frame').width === {width}", Patience);

            // A bad URI: the server's own message (the same as gRPC AddStream gives) appears next to the field.
            var bad = new AddStreamRequest { Id = "bad", SourceUri = "bogus://nowhere" };
            var rpc = await Assert.ThrowsAsync<RpcException>(() => server.Client.AddStreamAsync(bad).ResponseAsync);
            await Submit(page, "bad", "bogus://nowhere");
            await page.WaitForAsync("document.querySelector('#add-error').textContent.length > 0", Patience);
            string shown = (await page.EvaluateAsync("document.querySelector('#add-error').textContent"))!.GetValue<string>();
            output.WriteLine($"bad URI: {shown}");
            Assert.Equal(rpc.Status.Detail, shown);
            await page.ScreenshotAsync(Path.Combine(Artefacts, "add-error.png"));

            // Adding through the form makes a third tile that shows frames.
            await Submit(page, "cam3", Synthetic(3));
            await page.WaitForAsync("document.querySelectorAll('.tile').length === 3", Patience);
            await page.WaitForAsync(Painted("cam3", 2), Patience);
            Assert.Equal("", (await page.EvaluateAsync("document.querySelector('#add-error').textContent"))!.GetValue<string>());

            await MeasureLatencyAsync(page, "3 streams 160x128 @5 fps", "latency.txt");
            await page.ScreenshotAsync(Path.Combine(Artefacts, "three.png"));
        }
        catch
        {
            output.WriteLine("page console:\n" + page.Console);
            throw;
        }
    }

    [Fact]
    public async Task Web_page_with_an_api_key_refuses_to_stream_before_login()
    {
        Assert.True(Chromium.Executable() != null, "chromium is not installed: scripts/install-deps.sh test");
        await using var server = await ServerUnderTest.StartOnSocketsAsync(new Dictionary<string, string?> { ["StreamMtl:Security:ApiKeys:0"] = Key });
        await server.Client.AddStreamAsync(new AddStreamRequest { Id = "cam1", SourceUri = Synthetic(1) }, new Metadata { { "x-api-key", Key } });
        await using var browser = await Chromium.StartAsync();
        var page = await browser.NewPageAsync();
        try
        {
            await page.NavigateAsync(server.MetricsUrl + "/");
            await page.WaitForAsync("!document.querySelector('#login').hidden", Patience);
            Assert.Equal(401, (await page.EvaluateAsync("fetch('/api/streams').then(r => r.status)"))!.GetValue<int>());
            Assert.Equal("refused", (await page.EvaluateAsync(WebSocketOutcome))!.GetValue<string>());
            Assert.True((await page.EvaluateAsync("document.querySelector('#app').hidden"))!.GetValue<bool>());
            await page.ScreenshotAsync(Path.Combine(Artefacts, "login.png"));

            await LogIn(page, "not-the-key-0123456789");
            await page.WaitForAsync("document.querySelector('#login-error').textContent.length > 0", Patience);
            Assert.Equal(401, (await page.EvaluateAsync("fetch('/api/streams').then(r => r.status)"))!.GetValue<int>());

            await LogIn(page, Key);
            await page.WaitForAsync(Painted("cam1", 2), Patience);
            Assert.Equal("", (await page.EvaluateAsync("document.cookie"))!.GetValue<string>());
            Assert.Equal("open", (await page.EvaluateAsync(WebSocketOutcome))!.GetValue<string>());
            Assert.DoesNotContain(Key, (await page.EvaluateAsync("location.href"))!.GetValue<string>());
            await page.ScreenshotAsync(Path.Combine(Artefacts, "after-login.png"));
        }
        catch
        {
            output.WriteLine("page console:\n" + page.Console);
            throw;
        }
    }

    /// <summary>
    /// A stream at the minimal level holds depth on 7 frames of 8: the page is sent each depth map once, the frames in
    /// between mark it unchanged without its bytes, and the page keeps painting it (no painted frame lacks depth).
    /// </summary>
    [Fact]
    public async Task Web_page_keeps_painting_outputs_sent_as_unchanged()
    {
        Assert.True(Chromium.Executable() != null, "chromium is not installed: scripts/install-deps.sh test");
        await using var server = await ServerUnderTest.StartOnSocketsAsync();
        await server.Client.AddStreamAsync(new AddStreamRequest
        {
            Id = "held", SourceUri = Synthetic(3, fps: 10), Reuse = new StreamMtl.Api.V1.ReuseSettings { Level = ComputeLevel.Minimal },
        });
        await using var browser = await Chromium.StartAsync();
        var page = await browser.NewPageAsync();
        try
        {
            await page.NavigateAsync(server.MetricsUrl + "/");
            await page.WaitForAsync(Painted("held", 2), Patience);
            await page.EvaluateAsync($"(() => {{ const d = {Tile("held")}.querySelector('[data-layer=depth]'); d.checked = true; d.dispatchEvent(new Event('change')); return true; }})()");
            await page.WaitForAsync("window.streammtl.tiles['held'].unchanged >= 3", Patience);
            // Frames painted before the depth subscription's first result lack depth; none after it may.
            int missing = (await page.EvaluateAsync("window.streammtl.tiles['held'].missing"))!.GetValue<int>();
            int unchanged = (await page.EvaluateAsync("window.streammtl.tiles['held'].unchanged"))!.GetValue<int>();
            int painted = await PaintedCount(page, "held");
            await page.WaitForAsync($"window.streammtl.tiles['held'].unchanged >= {unchanged + 10} && {Painted("held", painted + 10)}", Patience);
            Assert.Equal(missing, (await page.EvaluateAsync("window.streammtl.tiles['held'].missing"))!.GetValue<int>());
            await page.EvaluateAsync($"(() => {{ const c = {Tile("held")}.querySelector('canvas.frame'); const r = c.getBoundingClientRect(); " +
                "c.dispatchEvent(new MouseEvent('mousemove', { clientX: r.left + r.width / 4, clientY: r.top + r.height / 2 })); return true; })()");
            string under = (await page.EvaluateAsync($"{Tile("held")}.querySelector('.under-cursor').textContent"))!.GetValue<string>();
            Assert.Matches(@" · [0-9.]+ m$", under);
        }
        catch
        {
            output.WriteLine("page console:\n" + page.Console);
            throw;
        }
    }

    [Fact]
    public async Task Web_page_subscribes_only_shown_tasks_and_pauses_hidden_tabs_and_off_screen_tiles()
    {
        Assert.True(Chromium.Executable() != null, "chromium is not installed: scripts/install-deps.sh test");
        await using var server = await ServerUnderTest.StartOnSocketsAsync();
        await server.Client.AddStreamAsync(new AddStreamRequest { Id = "cam1", SourceUri = Synthetic(1) });
        using var http = new HttpClient { BaseAddress = new Uri(server.MetricsUrl) };
        await using var browser = await Chromium.StartAsync();
        var page = await browser.NewPageAsync();
        try
        {
            await page.NavigateAsync(server.MetricsUrl + "/");
            await page.WaitForAsync(Painted("cam1", 2), Patience);
            Assert.Equal(1, await Subscribers(http));

            // Input and segmentation are shown: depth is not computed; showing depth starts it.
            double depthBefore = await DepthFlops(server);
            await page.WaitForAsync(Painted("cam1", await PaintedCount(page, "cam1") + 3), Patience);
            Assert.Equal(depthBefore, await DepthFlops(server));
            await page.EvaluateAsync($"(() => {{ const d = {Tile("cam1")}.querySelector('[data-layer=depth]'); d.checked = true; d.dispatchEvent(new Event('change')); return true; }})()");
            await page.WaitForAsync(Painted("cam1", await PaintedCount(page, "cam1") + 3), Patience);
            Assert.True(await DepthFlops(server) > depthBefore, "showing depth did not compute depth");

            // The frame under the cursor: class name, depth in metres, normal direction.
            await page.EvaluateAsync($"(() => {{ const c = {Tile("cam1")}.querySelector('canvas.frame'); const r = c.getBoundingClientRect(); " +
                "c.dispatchEvent(new MouseEvent('mousemove', { clientX: r.left + r.width / 4, clientY: r.top + r.height / 2 })); return true; })()");
            string under = (await page.EvaluateAsync($"{Tile("cam1")}.querySelector('.under-cursor').textContent"))!.GetValue<string>();
            output.WriteLine($"under the cursor: {under}");
            Assert.Matches(@"^(floor|wall|box|sphere|cylinder|cone|capsule) · [0-9.]+ m$", under);

            // A hidden tab unsubscribes; visible again, it resubscribes.
            await page.EvaluateAsync("(() => { Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' }); " +
                "document.dispatchEvent(new Event('visibilitychange')); return true; })()");
            await WaitForSubscribers(http, 0);
            await page.EvaluateAsync("(() => { delete document.visibilityState; document.dispatchEvent(new Event('visibilitychange')); return true; })()");
            await WaitForSubscribers(http, 1);

            // A tile scrolled out of view unsubscribes.
            await page.EvaluateAsync("(() => { document.querySelector('#grid').style.marginTop = '5000px'; return true; })()");
            await WaitForSubscribers(http, 0);
            await page.EvaluateAsync("(() => { document.querySelector('#grid').style.marginTop = ''; return true; })()");
            await WaitForSubscribers(http, 1);
        }
        catch
        {
            output.WriteLine("page console:\n" + page.Console);
            throw;
        }
    }

    [Fact]
    public async Task Web_stream_page_shows_one_stream_large_and_unsubscribes_the_others()
    {
        Assert.True(Chromium.Executable() != null, "chromium is not installed: scripts/install-deps.sh test");
        await using var server = await ServerUnderTest.StartOnSocketsAsync();
        await server.Client.AddStreamAsync(new AddStreamRequest { Id = "cam1", SourceUri = Synthetic(1) });
        await server.Client.AddStreamAsync(new AddStreamRequest { Id = "cam2", SourceUri = Synthetic(2) });
        using var http = new HttpClient { BaseAddress = new Uri(server.MetricsUrl) };
        await using var browser = await Chromium.StartAsync();
        var page = await browser.NewPageAsync();
        try
        {
            // Opened directly: cam2 alone, large, streaming; cam1's tile is hidden and unsubscribed; the add form is gone.
            await page.NavigateAsync(server.MetricsUrl + "/#stream=cam2");
            await page.WaitForAsync($"{Tile("cam2")}?.classList.contains('large') && {Tile("cam1")}?.hidden === true", Patience);
            await page.WaitForAsync(Painted("cam2", 3), Patience);
            Assert.True((await page.EvaluateAsync("document.querySelector('#add').hidden"))!.GetValue<bool>());
            await WaitForSubscribers(http, 0, "cam1");
            await WaitForSubscribers(http, 1, "cam2");
            await page.ScreenshotAsync(Path.Combine(Artefacts, "stream-page.png"));

            // "all streams" goes back to the grid: both tiles shown and subscribed.
            await page.EvaluateAsync("(() => { document.querySelector('#all').click(); return true; })()");
            await page.WaitForAsync($"!{Tile("cam1")}.hidden && !{Tile("cam2")}.classList.contains('large')", Patience);
            await WaitForSubscribers(http, 1, "cam1");
            await page.WaitForAsync(Painted("cam1", 2), Patience);

            // The tile's button opens its stream page.
            await page.EvaluateAsync($"(() => {{ {Tile("cam1")}.querySelector('.enlarge').click(); return true; }})()");
            await page.WaitForAsync($"location.hash === '#stream=cam1' && {Tile("cam2")}.hidden", Patience);
            await WaitForSubscribers(http, 0, "cam2");
        }
        catch
        {
            output.WriteLine("page console:\n" + page.Console);
            throw;
        }
    }

    /// <summary>The subscribers of stream <paramref name="id"/>, or of the first stream.</summary>
    private static async Task<int> Subscribers(HttpClient http, string? id = null)
    {
        var streams = (await http.GetFromJsonAsync<JsonObject>("/api/streams"))!["streams"]!.AsArray();
        var stream = id is null ? streams[0]! : streams.First(s => s!["id"]!.GetValue<string>() == id)!;
        return stream["subscribers"]!.GetValue<int>();
    }

    private static async Task WaitForSubscribers(HttpClient http, int count, string? id = null)
    {
        var deadline = DateTime.UtcNow + Patience;
        int now;
        while ((now = await Subscribers(http, id)) != count)
        {
            Assert.True(DateTime.UtcNow < deadline, $"stream {id ?? "(first)"} kept {now} subscribers, expected {count}");
            await Task.Delay(100);
        }
    }

    private static async Task<double> DepthFlops(ServerUnderTest server)
    {
        using var http = new HttpClient();
        string text = await http.GetStringAsync(server.MetricsUrl + "/metrics");
        var match = System.Text.RegularExpressions.Regex.Match(text, "^streammtl_flops_dense_total\\{stream=\"cam1\",task=\"depth\"\\} (\\S+)$",
            System.Text.RegularExpressions.RegexOptions.Multiline);
        return match.Success ? double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
    }

    private const string WebSocketOutcome =
        "new Promise(done => { const s = new WebSocket(`ws://${location.host}/ws`); s.onopen = () => { s.close(); done('open'); }; s.onerror = () => done('refused'); })";

    private static async Task LogIn(CdpPage page, string key)
    {
        await page.EvaluateAsync($"(() => {{ const f = document.querySelector('#login form'); f.key.value = {JsonValue.Create(key).ToJsonString()}; f.submit(); return true; }})()");
        await Task.Delay(500);
        await page.WaitForAsync("document.readyState === 'complete'", Patience);
    }

    private static Task Submit(CdpPage page, string id, string uri) => page.EvaluateAsync(
        $"(() => {{ const f = document.querySelector('#add'); f.elements.id.value = {JsonValue.Create(id).ToJsonString()}; " +
        $"f.elements.uri.value = {JsonValue.Create(uri).ToJsonString()}; f.requestSubmit(); return true; }})()");

    private static string Tile(string id) => $"document.querySelector('.tile[data-stream=\"{id}\"]')";

    private static string Painted(string id, int count) => $"(window.streammtl.tiles['{id}']?.painted ?? 0) >= {count}";

    private static async Task<int> PaintedCount(CdpPage page, string id) =>
        (await page.EvaluateAsync($"window.streammtl.tiles['{id}'].painted"))!.GetValue<int>();

    /// <summary>The tile's canvas as 0xRRGGBB per pixel.</summary>
    private static async Task<List<uint>> Pixels(CdpPage page, string id)
    {
        var values = (await page.EvaluateAsync($"(() => {{ const c = {Tile(id)}.querySelector('canvas.frame'); " +
            "const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; const out = []; " +
            "for (let i = 0; i < d.length; i += 4) out.push(d[i] << 16 | d[i + 1] << 8 | d[i + 2]); return out; })()"))!.AsArray();
        return values.Select(v => v!.GetValue<uint>()).ToList();
    }

    [Fact]
    public async Task Web_glass_to_page_latency_at_320x240()
    {
        Assert.True(Chromium.Executable() != null, "chromium is not installed: scripts/install-deps.sh test");
        await using var server = await ServerUnderTest.StartOnSocketsAsync(new Dictionary<string, string?>
        {
            ["StreamMtl:Model:InputWidth"] = "320",
            ["StreamMtl:Model:InputHeight"] = "240",
        });
        foreach (int seed in new[] { 1, 2 })
        {
            await server.Client.AddStreamAsync(new AddStreamRequest { Id = $"cam{seed}", SourceUri = $"synthetic://static?seed={seed}&w=320&h=240&fps=10" });
        }
        await using var browser = await Chromium.StartAsync();
        var page = await browser.NewPageAsync();
        await page.NavigateAsync(server.MetricsUrl + "/");
        await page.WaitForAsync(Painted("cam1", 3) + " && " + Painted("cam2", 3), Patience);
        await MeasureLatencyAsync(page, "2 streams 320x240 @10 fps", "latency-320x240.txt");
    }

    private static async Task<List<double>> Sorted(CdpPage page, string series) =>
        (await page.EvaluateAsync($"Object.values(window.streammtl.tiles).flatMap(t => t.{series})"))!.AsArray()
            .Select(v => v!.GetValue<double>()).Order().ToList();

    /// <summary>Capture time to the requestAnimationFrame that painted the frame, over ~10 s; logged, not asserted.</summary>
    private async Task MeasureLatencyAsync(CdpPage page, string what, string file)
    {
        await page.EvaluateAsync("Object.values(window.streammtl.tiles).forEach(t => { t.latencies.length = 0; t.arrivals.length = 0; })");
        await Task.Delay(TimeSpan.FromSeconds(10));
        var latencies = await Sorted(page, "latencies");
        var arrivals = await Sorted(page, "arrivals");
        Assert.NotEmpty(latencies);
        static double At(List<double> sorted, double q) => sorted[(int)(q * (sorted.Count - 1))];
        string line = string.Create(CultureInfo.InvariantCulture,
            $"glass-to-page latency (capture -> requestAnimationFrame paint), {what}, {latencies.Count} frames: p50 {At(latencies, 0.5):0} ms, " +
            $"p95 {At(latencies, 0.95):0} ms; of which capture -> message on the page p50 {At(arrivals, 0.5):0} ms, p95 {At(arrivals, 0.95):0} ms");
        output.WriteLine(line);
        Directory.CreateDirectory(Artefacts);
        await File.WriteAllTextAsync(Path.Combine(Artefacts, file), line + "\n");
    }
}
