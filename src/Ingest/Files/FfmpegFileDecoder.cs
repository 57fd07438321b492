using System.Buffers;
using System.Diagnostics;
using OpenCvSharp;
using StreamMtl.Ingest.Network;
using StreamMtl.Ingest.Sources;

namespace StreamMtl.Ingest.Files;

/// <summary>
/// A video file decoded by the system ffmpeg as a child process (<see cref="FileDecoder.Ffmpeg"/>), scaled there when
/// the options give a size. The pipe holds less than a frame, so the child decodes at most a frame ahead of the reader
/// and a paced source paces it too. Killed when the pass ends or is abandoned.
/// </summary>
internal sealed class FfmpegFileDecoder : IVideoFileDecoder
{
    private readonly Process _process;
    private readonly StderrTail _stderr;
    private readonly byte[] _buffer;
    private readonly CancellationTokenRegistration _killOnCancel;

    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(10);

    private FfmpegFileDecoder(Process process, StderrTail stderr, int width, int height, double fps, long frameCount, CancellationToken cancellationToken)
    {
        _process = process;
        _stderr = stderr;
        Width = width;
        Height = height;
        Fps = fps > 0 && fps < 1000 ? fps : 0;
        FrameCount = frameCount;
        ProcessId = process.Id;
        _buffer = ArrayPool<byte>.Shared.Rent(width * height * 3);
        _killOnCancel = cancellationToken.Register(static p => FfmpegChild.Kill((Process)p!), process);
    }

    public int Width { get; }
    public int Height { get; }
    public double Fps { get; }
    public long FrameCount { get; }
    public string Diagnostics => _stderr.Summary();

    public int ProcessId { get; }

    /// <summary>
    /// Starts ffmpeg on <paramref name="path"/> and waits for it to announce the output geometry; a file it cannot decode
    /// is <see cref="SourceErrorKind.NotAVideo"/> with ffmpeg's own words.
    /// </summary>
    public static async Task<FfmpegFileDecoder> OpenAsync(string path, string displayUri, SourceOptions options, CancellationToken cancellationToken)
    {
        var stderr = new StderrTail();
        // The header's frame count, which ffmpeg's own log does not give (it prints the duration of what the file holds):
        // asked of ffprobe while ffmpeg starts.
        var frameCount = ProbeFrameCountAsync(path, options.FfmpegPath, cancellationToken);
        var process = FfmpegChild.Start(options.FfmpegPath, FfmpegArguments.BuildFile(path, options), stderr);
        try
        {
            if (!await FfmpegChild.TryLearnSizeAsync(process, stderr, cancellationToken).ConfigureAwait(false))
            {
                // ffmpeg has exited (and its stderr has been read to the end); the catch below reaps it.
                throw new SourceException(SourceErrorKind.NotAVideo,
                    $"{displayUri}: not a video ffmpeg can decode (ffmpeg exit {FfmpegChild.ExitCode(process)}): {stderr.Summary()}");
            }
            var (width, height, fps) = stderr.OutputSize.Result;
            return new FfmpegFileDecoder(process, stderr, width, height, fps, await frameCount.ConfigureAwait(false), cancellationToken);
        }
        catch
        {
            await FfmpegChild.StopAsync(process).ConfigureAwait(false);
            process.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The frame count the first video stream's header declares (ffprobe's <c>nb_frames</c>; ffprobe beside
    /// <paramref name="ffmpegPath"/>); 0 when it declares none or ffprobe cannot say.
    /// </summary>
    internal static async Task<long> ProbeFrameCountAsync(string path, string ffmpegPath, CancellationToken cancellationToken)
    {
        var directory = Path.GetDirectoryName(ffmpegPath);
        var info = new ProcessStartInfo(string.IsNullOrEmpty(directory) ? "ffprobe" : Path.Combine(directory, "ffprobe"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in (string[])["-v", "error", "-protocol_whitelist", "file", "-select_streams", "v:0", "-show_entries", "stream=nb_frames",
            "-of", "default=noprint_wrappers=1:nokey=1", "file:" + Path.GetFullPath(path)])
        {
            info.ArgumentList.Add(arg);
        }
        Process process;
        try
        {
            process = Process.Start(info)!;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return 0;
        }
        using (process)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(ProbeTimeout);
            try
            {
                var stdout = process.StandardOutput.ReadToEndAsync(timeout.Token);
                _ = process.StandardError.ReadToEndAsync(timeout.Token);
                await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
                return long.TryParse((await stdout.ConfigureAwait(false)).Trim(), out var count) && count > 0 ? count : 0;
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                return 0;
            }
            finally
            {
                FfmpegChild.Kill(process);
            }
        }
    }

    public async ValueTask<Mat?> ReadAsync(CancellationToken cancellationToken)
    {
        var length = Width * Height * 3;
        var complete = await FfmpegChild.ReadExactlyAsync(_process.StandardOutput.BaseStream, _buffer.AsMemory(0, length)).ConfigureAwait(false);
        cancellationToken.ThrowIfCancellationRequested();
        return complete ? FfmpegChild.ToMat(_buffer, Width, Height) : null;
    }

    public async ValueTask DisposeAsync()
    {
        await _killOnCancel.DisposeAsync().ConfigureAwait(false);
        await FfmpegChild.StopAsync(_process).ConfigureAwait(false);
        _process.Dispose();
        ArrayPool<byte>.Shared.Return(_buffer);
    }
}
