using System.Collections.Concurrent;
using System.Net;

namespace StreamMtl.Tests.Shared;

/// <summary>
/// A loopback HTTP server for egress tests: fixed answers per path (bodies, redirects) or files from a folder; it counts
/// every request it receives, so a test can prove a host was never reached.
/// </summary>
internal sealed class HttpOrigin : IAsyncDisposable
{
    private readonly HttpListener _listener = new();
    private readonly ConcurrentDictionary<string, (int Status, string? Location, byte[] Body)> _routes = new();
    private readonly Task _serving;
    private int _requests;

    public HttpOrigin(string? folder = null)
    {
        Folder = folder;
        Port = FreePort.Next();
        _listener.Prefixes.Add($"http://127.0.0.1:{Port}/");
        _listener.Start();
        _serving = Task.Run(ServeAsync);
    }

    public int Port { get; }

    /// <summary>Files below this folder are served by name when no route matches.</summary>
    public string? Folder { get; }

    public string Url(string path) => $"http://127.0.0.1:{Port}/{path.TrimStart('/')}";

    public int Requests => Volatile.Read(ref _requests);

    public HttpOrigin Serve(string path, string body) => Set(path, 200, null, System.Text.Encoding.UTF8.GetBytes(body));

    public HttpOrigin Redirect(string path, string location) => Set(path, 302, location, []);

    public async ValueTask DisposeAsync()
    {
        _listener.Stop();
        _listener.Close();
        await _serving;
    }

    private HttpOrigin Set(string path, int status, string? location, byte[] body)
    {
        _routes["/" + path.TrimStart('/')] = (status, location, body);
        return this;
    }

    private async Task ServeAsync()
    {
        while (true)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }
            Interlocked.Increment(ref _requests);
            _ = Task.Run(() => Answer(context));
        }
    }

    private void Answer(HttpListenerContext context)
    {
        var response = context.Response;
        try
        {
            var path = context.Request.Url!.AbsolutePath;
            var file = Folder is null ? null : Path.Combine(Folder, Path.GetFileName(path));
            var (status, location, body) = _routes.TryGetValue(path, out var route) ? route
                : file is not null && File.Exists(file) ? (200, null, File.ReadAllBytes(file))
                : (404, null, []);
            response.StatusCode = status;
            if (location is not null)
            {
                response.RedirectLocation = location;
            }
            response.ContentLength64 = body.Length;
            response.OutputStream.Write(body);
            response.Close();
        }
        catch (Exception ex) when (ex is HttpListenerException or IOException or ObjectDisposedException)
        {
            response.Abort();
        }
    }
}
