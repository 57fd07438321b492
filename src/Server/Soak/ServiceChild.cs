using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace StreamMtl.Server.Soak;

/// <summary>
/// The service under soak: <c>dotnet streammtl.dll serve ...</c> as a child process, its output kept (the last lines) for
/// error messages. Disposing kills it with its whole tree; so does this process's exit (SIGTERM, end of Main), as a backstop.
/// </summary>
public sealed class ServiceChild : IAsyncDisposable
{
    /// <summary>The line <c>streammtl serve</c> prints once it listens.</summary>
    private const string ReadyLine = "streammtl serving:";

    private const int KeptLines = 60;

    private readonly Process _process;
    private readonly Queue<string> _lines = new();
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private ServiceChild(Process process)
    {
        _process = process;
    }

    public int Pid => _process.Id;

    /// <summary>The dotnet host running this process (so the child runs on the same runtime), else DOTNET_HOST_PATH, else dotnet on PATH.</summary>
    public static string DotnetHost() =>
        Environment.ProcessPath is { } self && Path.GetFileNameWithoutExtension(self) == "dotnet" ? self
        : Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host
        : "dotnet";

    /// <summary>A TCP port free on loopback now, for the child's listeners.</summary>
    public static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public bool HasExited => _process.HasExited;

    /// <summary>The last lines the service wrote (stdout and stderr together).</summary>
    public string OutputTail
    {
        get
        {
            lock (_lines)
            {
                return string.Join('\n', _lines);
            }
        }
    }

    /// <summary>Starts <paramref name="host"/> <paramref name="serverDll"/> serve <paramref name="serveArguments"/> and returns once it listens.</summary>
    /// <exception cref="InvalidOperationException">The service exited or did not listen within <paramref name="startTimeout"/> (its output is in the message).</exception>
    public static async Task<ServiceChild> StartAsync(string host, string serverDll, IEnumerable<string> serveArguments, TimeSpan startTimeout,
        CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo(host) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (StreamMtl.Pipeline.Inference.OpenMpPolicy.SetByProcess)
        {
            // This process chose it, not the operator: the service decides its own (and an older build its own default).
            info.Environment.Remove(StreamMtl.Pipeline.Inference.OpenMpPolicy.Variable);
        }
        info.ArgumentList.Add(serverDll);
        info.ArgumentList.Add("serve");
        foreach (string argument in serveArguments)
        {
            info.ArgumentList.Add(argument);
        }
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var child = new ServiceChild(process);
        process.OutputDataReceived += (_, e) => child.Keep(e.Data);
        process.ErrorDataReceived += (_, e) => child.Keep(e.Data);
        process.Exited += (_, _) => child._ready.TrySetException(new InvalidOperationException("the service exited before it listened"));
        process.Start();
        AppDomain.CurrentDomain.ProcessExit += child.KillOnExit;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await child._ready.Task.WaitAsync(startTimeout, cancellationToken).ConfigureAwait(false);
            return child;
        }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException)
        {
            await child.DisposeAsync().ConfigureAwait(false);
            string what = e is TimeoutException ? $"the service did not listen within {startTimeout.TotalSeconds:0} s" : e.Message;
            throw new InvalidOperationException($"{what}; its output:\n{child.OutputTail}", e);
        }
        catch
        {
            await child.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private void Keep(string? line)
    {
        if (line == null)
        {
            return;
        }
        lock (_lines)
        {
            _lines.Enqueue(line);
            if (_lines.Count > KeptLines)
            {
                _lines.Dequeue();
            }
        }
        if (line.StartsWith(ReadyLine, StringComparison.Ordinal))
        {
            _ready.TrySetResult();
        }
    }

    private void KillOnExit(object? sender, EventArgs e) => Kill();

    private void Kill()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            // Already gone.
        }
    }

    /// <summary>Kills the service (whole tree) and waits until it is gone.</summary>
    public async ValueTask DisposeAsync()
    {
        AppDomain.CurrentDomain.ProcessExit -= KillOnExit;
        Kill();
        try
        {
            await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // Reported by the caller through HasExited; nothing more can be done than SIGKILL.
        }
        catch (InvalidOperationException)
        {
        }
        _process.Dispose();
    }
}
