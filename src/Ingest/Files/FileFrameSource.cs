using System.Runtime.CompilerServices;
using OpenCvSharp;
using StreamMtl.Ingest.Frames;
using StreamMtl.Ingest.Sources;

namespace StreamMtl.Ingest.Files;

/// <summary>
/// A video file, paced at its own fps or read flat out, optionally looped; decoded by OpenCvSharp's VideoCapture in
/// process, or by the system ffmpeg in a child process (<see cref="SourceOptions.FileDecoder"/>).
/// </summary>
public sealed class FileFrameSource : IFrameSource
{
    // Frame counts from container headers are estimates; a file whose reads stop well short of it is truncated.
    private const double TruncatedFraction = 0.9;
    private static readonly TimeSpan MaxLag = TimeSpan.FromSeconds(1);

    private readonly string _path;
    private readonly SourceOptions _options;
    private readonly TimeProvider _time;
    private int _decoderProcessId;

    public FileFrameSource(string path, SourceOptions? options = null, TimeProvider? time = null)
    {
        _path = path;
        _options = options ?? SourceOptions.Default;
        _time = time ?? TimeProvider.System;
        DisplayUri = UriRedactor.Redact(path);
        Info = new SourceInfo(_options.Width, _options.Height, 0);
    }

    public string DisplayUri { get; }

    public SourceInfo Info { get; private set; }

    /// <summary>The ffmpeg decoder's process id while a pass reads through one, else 0.</summary>
    public int DecoderProcessId => Volatile.Read(ref _decoderProcessId);

    public async IAsyncEnumerable<Frame> ReadAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        long index = 0;
        var loopOffset = TimeSpan.Zero;
        var start = _time.GetTimestamp();
        var paceOrigin = TimeSpan.Zero;
        while (true)
        {
            long passFrames = 0;
            await using var decoder = await OpenAsync(cancellationToken).ConfigureAwait(false);
            using var clearId = new ProcessIdScope(this, decoder.ProcessId);
            var fps = Info.Fps;
            var reportedCount = Info.FrameCount;
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                HelperPriority.Apply();
                if (await decoder.ReadAsync(cancellationToken).ConfigureAwait(false) is not { } image)
                {
                    break;
                }
                var timestamp = loopOffset + TimeSpan.FromSeconds(passFrames / fps);
                if (_options.Pacing == Pacing.Live)
                {
                    var wait = timestamp - paceOrigin - _time.GetElapsedTime(start);
                    if (wait > TimeSpan.Zero)
                    {
                        await DelayOrDispose(image, wait, cancellationToken);
                    }
                    else if (-wait > MaxLag)
                    {
                        // Fell far behind (slow consumer or decode): re-anchor instead of bursting to catch up.
                        paceOrigin = timestamp - _time.GetElapsedTime(start);
                    }
                }
                var frame = new Frame(image, index++, timestamp, _time.GetUtcNow());
                passFrames++;
                yield return frame;
            }
            if (passFrames == 0)
            {
                throw new SourceException(SourceErrorKind.NotAVideo, $"{DisplayUri}: opened but no frame could be decoded{Said(decoder)}");
            }
            if (reportedCount > 0 && passFrames < reportedCount * TruncatedFraction)
            {
                throw new SourceException(SourceErrorKind.Truncated,
                    $"{DisplayUri}: decoding stopped after {passFrames} of {reportedCount} frames (truncated or corrupt file; not replayed){Said(decoder)}");
            }
            if (!_options.Loop)
            {
                yield break;
            }
            loopOffset += TimeSpan.FromSeconds(passFrames / fps);
        }
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    /// <summary>The decoder the options name.</summary>
    internal FileDecoder Decoder => _options.FileDecoder;

    private async Task<IVideoFileDecoder> OpenAsync(CancellationToken cancellationToken)
    {
        if (Directory.Exists(_path))
        {
            throw new SourceException(SourceErrorKind.NotAVideo, $"{DisplayUri} is a directory, not a video file");
        }
        if (!File.Exists(_path))
        {
            throw new SourceException(SourceErrorKind.NotFound, $"video file not found: {DisplayUri}");
        }
        try
        {
            using (File.OpenRead(_path))
            {
            }
        }
        catch (UnauthorizedAccessException ex)
        {
            throw new SourceException(SourceErrorKind.Forbidden, $"no permission to read {DisplayUri}", ex);
        }
        IVideoFileDecoder decoder = Decoder == FileDecoder.Ffmpeg
            ? await FfmpegFileDecoder.OpenAsync(_path, DisplayUri, _options, cancellationToken).ConfigureAwait(false)
            : OpenCvFileDecoder.Open(_path, _options)
                ?? throw new SourceException(SourceErrorKind.NotAVideo, $"{DisplayUri}: not a video the decoder understands (unknown container or codec, or truncated header)");
        Info = new SourceInfo(decoder.Width, decoder.Height, decoder.Fps > 0 ? decoder.Fps : 25, decoder.FrameCount, IsLive: false);
        return decoder;
    }

    /// <summary>Publishes the pass's ffmpeg process id (<see cref="DecoderProcessId"/>) until the pass ends.</summary>
    private readonly struct ProcessIdScope : IDisposable
    {
        private readonly FileFrameSource _source;

        public ProcessIdScope(FileFrameSource source, int processId)
        {
            _source = source;
            Volatile.Write(ref source._decoderProcessId, processId);
        }

        public void Dispose() => Volatile.Write(ref _source._decoderProcessId, 0);
    }

    private static string Said(IVideoFileDecoder decoder) => decoder.Diagnostics is { Length: > 0 } said ? $": {said}" : "";

    private async Task DelayOrDispose(Mat image, TimeSpan wait, CancellationToken cancellationToken)
    {
        try
        {
            await Task.Delay(wait, _time, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            image.Dispose();
            throw;
        }
    }
}
