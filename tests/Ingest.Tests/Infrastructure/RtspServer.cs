using System.Diagnostics;
using System.Runtime.InteropServices;

namespace StreamMtl.Ingest.Tests.Infrastructure;

/// <summary>
/// Debian's GStreamer RTSP server (python3-gi, Rtsp/rtsp_server.py) serving a clip on 127.0.0.1; can be killed,
/// restarted on the same port, frozen (SIGSTOP) and thawed.
/// </summary>
internal sealed partial class RtspServer : IDisposable
{
    private const int SigStop = 19;
    private const int SigCont = 18;
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(20);
    private readonly string _clip;
    private Process? _process;

    public RtspServer(string clip, int? port = null)
    {
        _clip = clip;
        Port = port ?? FreePort.Next();
    }

    public int Port { get; }

    public string Url => $"rtsp://127.0.0.1:{Port}/clip";

    public int ProcessId => _process?.Id ?? 0;

    public static string Script => Path.Combine(AppContext.BaseDirectory, "Rtsp", "rtsp_server.py");

    public void Start()
    {
        if (!File.Exists("/usr/bin/python3"))
        {
            throw new InvalidOperationException("/usr/bin/python3 missing: install Debian packages python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad");
        }
        var info = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(Script);
        info.ArgumentList.Add(Port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        info.ArgumentList.Add(_clip);
        var process = Process.Start(info) ?? throw new InvalidOperationException("python3 did not start");
        _process = process;
        var stderr = process.StandardError.ReadToEndAsync();
        var ready = Task.Run(() => process.StandardOutput.ReadLine());
        if (!ready.Wait(StartTimeout) || ready.Result != "READY")
        {
            Kill();
            throw new InvalidOperationException(
                $"RTSP test server did not start (needs python3-gi, gir1.2-gst-rtsp-server-1.0, gstreamer1.0-plugins-good/bad): {(stderr.Wait(2000) ? stderr.Result : "")}");
        }
    }

    /// <summary>Kills the server the hard way, as a crashing camera would go.</summary>
    public void Kill()
    {
        if (_process is not { } process)
        {
            return;
        }
        _process = null;
        try
        {
            if (!process.HasExited)
            {
                Resume(process.Id);
                process.Kill(entireProcessTree: true);
            }
            process.WaitForExit(5000);
        }
        catch (InvalidOperationException)
        {
        }
        process.Dispose();
    }

    public void Freeze() => Signal(SigStop);

    public void Thaw() => Signal(SigCont);

    public void Dispose() => Kill();

    private void Signal(int signal)
    {
        if (_process is { } process && kill(process.Id, signal) != 0)
        {
            throw new InvalidOperationException($"kill({process.Id}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    private static void Resume(int pid) => kill(pid, SigCont);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int kill(int pid, int sig);
}
