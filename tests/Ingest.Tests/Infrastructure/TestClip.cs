using System.Diagnostics;

namespace StreamMtl.Ingest.Tests.Infrastructure;

/// <summary>
/// A 320x240, 10 fps H.264 MP4 without B-frames (what the GStreamer RTSP server can packetise), re-encoded from
/// vtest.avi with the system ffmpeg into a temp directory once per test run.
/// </summary>
public sealed class TestClip : IDisposable
{
    public const int Width = 320;
    public const int Height = 240;
    public const double Fps = 10;

    public TestClip()
    {
        Directory = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "streammtl-ingest-" + Guid.NewGuid().ToString("N")[..8]);
        System.IO.Directory.CreateDirectory(Directory);
        Path = System.IO.Path.Combine(Directory, "clip.mp4");
        // 30 s: longer than any test stays connected, so the server never reaches the clip's end mid-test.
        var encoder = Ffmpeg.HasEncoder("libx264") ? "libx264" : "h264";
        var args = new List<string> { "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-t", "30", "-i", TestPaths.Video("vtest.avi"),
            "-vf", $"scale={Width}:{Height}", "-c:v", encoder };
        if (encoder == "libx264")
        {
            args.AddRange(["-preset", "veryfast", "-tune", "zerolatency"]);
        }
        args.AddRange(["-bf", "0", "-g", "10", "-pix_fmt", "yuv420p", "-an", "-movflags", "+faststart", Path]);
        Ffmpeg.Run(args, TimeSpan.FromSeconds(60));
    }

    public string Directory { get; }

    public string Path { get; }

    public void Dispose()
    {
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>Runs the system ffmpeg for test set-up, bounded in time and always reaped.</summary>
internal static class Ffmpeg
{
    public static bool HasEncoder(string name)
    {
        var output = Run(["-hide_banner", "-encoders"], TimeSpan.FromSeconds(20));
        return output.Contains(" " + name + " ", StringComparison.Ordinal);
    }

    public static string Run(IEnumerable<string> args, TimeSpan timeout)
    {
        var info = new ProcessStartInfo("ffmpeg") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }
        using var process = Process.Start(info) ?? throw new InvalidOperationException("ffmpeg did not start");
        try
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(timeout))
            {
                throw new TimeoutException($"ffmpeg {string.Join(' ', args)} took over {timeout}");
            }
            process.WaitForExit();
            if (process.ExitCode != 0)
            {
                throw new InvalidOperationException($"ffmpeg {string.Join(' ', args)} exited {process.ExitCode}: {stderr.Result}");
            }
            return stdout.Result;
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
    }
}
