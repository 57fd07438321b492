using System.Collections.Concurrent;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using StreamMtl.Server.Tests.Infrastructure;

namespace StreamMtl.Server.Tests.Web;

/// <summary>
/// A headless Chromium (the Debian package) driven over the DevTools protocol: a fresh profile per instance, one
/// WebSocket per page. The browser (whole process tree) and its profile are removed on dispose.
/// </summary>
internal sealed class Chromium : IAsyncDisposable
{
    private readonly ChildProcess _process;
    private readonly string _profile;
    private readonly HttpClient _http;
    private readonly List<CdpPage> _pages = [];

    private Chromium(ChildProcess process, string profile, int port)
    {
        _process = process;
        _profile = profile;
        _http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
    }

    public static string? Executable() => new[] { "/usr/bin/chromium", "/usr/bin/chromium-browser" }.FirstOrDefault(File.Exists);

    public static async Task<Chromium> StartAsync()
    {
        string file = Executable() ?? throw new InvalidOperationException("chromium is not installed (scripts/install-deps.sh test)");
        string profile = Directory.CreateTempSubdirectory("streammtl-chromium-").FullName;
        var process = ChildProcess.Start(file, ["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
            "--disable-background-networking", "--disable-extensions", "--disable-component-update", "--disable-sync", "--mute-audio",
            "--disable-background-timer-throttling", "--disable-renderer-backgrounding", "--disable-backgrounding-occluded-windows",
            "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", $"--user-data-dir={profile}", "--window-size=1280,1000", "about:blank"]);
        string portFile = Path.Combine(profile, "DevToolsActivePort");
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (!File.Exists(portFile) || (await File.ReadAllLinesAsync(portFile)).Length < 1)
        {
            if (process.HasExited || DateTime.UtcNow > deadline)
            {
                string output = process.Output;
                await process.DisposeAsync();
                throw new InvalidOperationException($"chromium did not open its DevTools port; output:\n{output}");
            }
            await Task.Delay(100);
        }
        int port = int.Parse((await File.ReadAllLinesAsync(portFile))[0], System.Globalization.CultureInfo.InvariantCulture);
        return new Chromium(process, profile, port);
    }

    public string Output => _process.Output;

    public async Task<CdpPage> NewPageAsync()
    {
        using var response = await _http.PutAsync("/json/new?about:blank", null);
        response.EnsureSuccessStatusCode();
        var target = await response.Content.ReadFromJsonAsync<JsonObject>() ?? throw new InvalidOperationException("no target");
        var page = await CdpPage.ConnectAsync(new Uri(target["webSocketDebuggerUrl"]!.GetValue<string>()));
        _pages.Add(page);
        await page.SendAsync("Page.enable");
        await page.SendAsync("Runtime.enable");
        return page;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var page in _pages)
        {
            await page.DisposeAsync();
        }
        _http.Dispose();
        await _process.DisposeAsync();
        try
        {
            Directory.Delete(_profile, recursive: true);
        }
        catch (IOException)
        {
            // Chromium may still be flushing its profile; the temp directory is cleaned later.
        }
    }
}

/// <summary>One page's DevTools session: commands by id, console messages and exceptions kept for failure reports.</summary>
internal sealed class CdpPage : IAsyncDisposable
{
    private readonly ClientWebSocket _socket;
    private readonly ConcurrentDictionary<int, TaskCompletionSource<JsonObject>> _calls = new();
    private readonly ConcurrentQueue<string> _console = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _reader;
    private readonly SemaphoreSlim _send = new(1, 1);
    private int _ids;

    private CdpPage(ClientWebSocket socket)
    {
        _socket = socket;
        _reader = Task.Run(ReadAsync);
    }

    public static async Task<CdpPage> ConnectAsync(Uri uri)
    {
        var socket = new ClientWebSocket();
        socket.Options.KeepAliveInterval = TimeSpan.Zero;
        await socket.ConnectAsync(uri, CancellationToken.None);
        return new CdpPage(socket);
    }

    /// <summary>The page's console output and uncaught exceptions so far.</summary>
    public string Console => string.Join("\n", _console);

    public async Task<JsonObject> SendAsync(string method, JsonObject? parameters = null)
    {
        int id = Interlocked.Increment(ref _ids);
        var call = new TaskCompletionSource<JsonObject>(TaskCreationOptions.RunContinuationsAsynchronously);
        _calls[id] = call;
        byte[] message = Encoding.UTF8.GetBytes(new JsonObject { ["id"] = id, ["method"] = method, ["params"] = parameters ?? new JsonObject() }.ToJsonString());
        await _send.WaitAsync();
        try
        {
            await _socket.SendAsync(message, WebSocketMessageType.Text, true, CancellationToken.None);
        }
        finally
        {
            _send.Release();
        }
        var reply = await call.Task.WaitAsync(TimeSpan.FromSeconds(60));
        if (reply["error"] is JsonObject error)
        {
            throw new InvalidOperationException($"{method}: {error.ToJsonString()}");
        }
        return reply["result"] as JsonObject ?? new JsonObject();
    }

    public async Task NavigateAsync(string url)
    {
        await SendAsync("Page.navigate", new JsonObject { ["url"] = url });
        await WaitForAsync("document.readyState === 'complete'", TimeSpan.FromSeconds(30));
    }

    /// <summary>The value of a JavaScript expression (promises awaited), as JSON.</summary>
    public async Task<JsonNode?> EvaluateAsync(string expression)
    {
        var result = await SendAsync("Runtime.evaluate", new JsonObject
        {
            ["expression"] = expression,
            ["awaitPromise"] = true,
            ["returnByValue"] = true,
        });
        if (result["exceptionDetails"] is JsonObject exception)
        {
            throw new InvalidOperationException($"{expression}: {exception.ToJsonString()}");
        }
        return result["result"]?["value"]?.DeepClone();
    }

    /// <summary>Waits until the expression is truthy; the failure says what the page logged.</summary>
    public async Task WaitForAsync(string expression, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var value = await EvaluateAsync($"!!({expression})");
            if (value?.GetValue<bool>() == true)
            {
                return;
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"the page did not reach `{expression}` within {timeout.TotalSeconds:0} s; console:\n{Console}");
            }
            await Task.Delay(100);
        }
    }

    public async Task ScreenshotAsync(string path)
    {
        var shot = await SendAsync("Page.captureScreenshot", new JsonObject { ["format"] = "png" });
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        await File.WriteAllBytesAsync(path, Convert.FromBase64String(shot["data"]!.GetValue<string>()));
    }

    private async Task ReadAsync()
    {
        var buffer = new byte[1 << 20];
        using var message = new MemoryStream();
        try
        {
            while (!_stop.IsCancellationRequested && _socket.State == WebSocketState.Open)
            {
                var received = await _socket.ReceiveAsync(buffer, _stop.Token);
                if (received.MessageType == WebSocketMessageType.Close)
                {
                    break;
                }
                message.Write(buffer, 0, received.Count);
                if (!received.EndOfMessage)
                {
                    continue;
                }
                var json = JsonNode.Parse(message.GetBuffer().AsSpan(0, (int)message.Length)) as JsonObject;
                message.SetLength(0);
                if (json?["id"] is JsonValue id && _calls.TryRemove(id.GetValue<int>(), out var call))
                {
                    call.TrySetResult(json);
                }
                else if (json?["method"]?.GetValue<string>() is "Runtime.consoleAPICalled" or "Runtime.exceptionThrown" && _console.Count < 500)
                {
                    _console.Enqueue(json["params"]!.ToJsonString());
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or WebSocketException)
        {
        }
        foreach (var call in _calls.Values)
        {
            call.TrySetException(new InvalidOperationException("the DevTools connection closed"));
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await _reader;
        }
        finally
        {
            _socket.Dispose();
            _stop.Dispose();
            _send.Dispose();
        }
    }
}
