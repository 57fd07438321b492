using System.ComponentModel;
using System.Diagnostics;
using System.Runtime.InteropServices;
using OpenCvSharp;
using StreamMtl.Ingest.Frames;
using StreamMtl.Ingest.Sources;

namespace StreamMtl.Ingest.Network;

/// <summary>
/// An ffmpeg child process that writes raw BGR24 frames to stdout, as network sources and the ffmpeg file decoder run it:
/// started at helper priority with its stderr kept in a <see cref="StderrTail"/>, read a frame at a time, killed (with
/// its children) whenever reading stops.
/// </summary>
internal static class FfmpegChild
{
    private static readonly TimeSpan ExitWait = TimeSpan.FromSeconds(3);

    /// <summary>Starts <paramref name="ffmpegPath"/> with <paramref name="arguments"/>; a missing binary is <see cref="SourceErrorKind.DependencyMissing"/>.</summary>
    public static Process Start(string ffmpegPath, IEnumerable<string> arguments, StderrTail stderr, IReadOnlyDictionary<string, string?>? environment = null)
    {
        var info = new ProcessStartInfo(ffmpegPath)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = false,
            UseShellExecute = false,
            CreateNoWindow = true,
        };
        foreach (var arg in arguments)
        {
            info.ArgumentList.Add(arg);
        }
        foreach (var (name, value) in environment ?? new Dictionary<string, string?>())
        {
            if (value is null)
            {
                info.Environment.Remove(name);
            }
            else
            {
                info.Environment[name] = value;
            }
        }
        var process = new Process { StartInfo = info };
        process.ErrorDataReceived += (_, e) => stderr.Add(e.Data);
        try
        {
            // The child inherits the starting thread's nice value: the decoder runs at helper priority, as in-process decoding does.
            HelperPriority.Apply();
            process.Start();
        }
        catch (Win32Exception ex)
        {
            process.Dispose();
            throw new SourceException(SourceErrorKind.DependencyMissing,
                $"cannot start ffmpeg ('{ffmpegPath}'): {ex.Message}; install the Debian package 'ffmpeg' or set the ffmpeg path", ex);
        }
        process.BeginErrorReadLine();
        return process;
    }

    /// <summary>
    /// Waits until ffmpeg has printed its output stream's geometry (raw frames carry no header) or has exited; true when
    /// the geometry is known.
    /// </summary>
    public static async Task<bool> TryLearnSizeAsync(Process process, StderrTail stderr, CancellationToken cancellationToken)
    {
        var exited = process.WaitForExitAsync(cancellationToken);
        await Task.WhenAny(stderr.OutputSize, exited).ConfigureAwait(false);
        cancellationToken.ThrowIfCancellationRequested();
        return stderr.OutputSize.IsCompletedSuccessfully;
    }

    /// <summary>Fills <paramref name="buffer"/> from the pipe; false at EOF (a partial frame at the end is dropped).</summary>
    public static async Task<bool> ReadExactlyAsync(Stream stream, Memory<byte> buffer)
    {
        var filled = 0;
        while (filled < buffer.Length)
        {
            // No token: cancellation kills the child, which ends the read with EOF.
            var n = await stream.ReadAsync(buffer[filled..]).ConfigureAwait(false);
            if (n == 0)
            {
                return false;
            }
            filled += n;
        }
        return true;
    }

    /// <summary>A new Mat holding the frame in <paramref name="buffer"/>.</summary>
    public static Mat ToMat(byte[] buffer, int width, int height)
    {
        var mat = new Mat(height, width, MatType.CV_8UC3);
        Marshal.Copy(buffer, 0, mat.Data, width * height * 3);
        return mat;
    }

    public static void Kill(Process process)
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
        catch (Win32Exception)
        {
            // Exited between the check and the kill.
        }
    }

    /// <summary>Kills the child if it still runs and waits (a few seconds at most) for it to be reaped.</summary>
    public static async Task StopAsync(Process process)
    {
        Kill(process);
        using var cts = new CancellationTokenSource(ExitWait);
        try
        {
            await process.WaitForExitAsync(cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Reaped later by the runtime; the kill above has been sent.
        }
        catch (InvalidOperationException)
        {
        }
    }

    public static string ExitCode(Process process) =>
        process.HasExited ? process.ExitCode.ToString(System.Globalization.CultureInfo.InvariantCulture) : "?";
}
