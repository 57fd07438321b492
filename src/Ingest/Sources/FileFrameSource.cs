using System.Runtime.CompilerServices;
using OpenCvSharp;
using StreamMtl.Ingest.Frames;

namespace StreamMtl.Ingest.Sources;

/// <summary>A video file decoded by OpenCvSharp's VideoCapture, paced at its own fps or read flat out, optionally looped.</summary>
public sealed class FileFrameSource : IFrameSource
{
    // Frame counts from container headers are estimates; a file whose reads stop well short of it is truncated.
    private const double TruncatedFraction = 0.9;
    private static readonly TimeSpan MaxLag = TimeSpan.FromSeconds(1);

    private readonly string _path;
    private readonly SourceOptions _options;
    private readonly TimeProvider _time;

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

    public async IAsyncEnumerable<Frame> ReadAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        long index = 0;
        var loopOffset = TimeSpan.Zero;
        var start = _time.GetTimestamp();
        var paceOrigin = TimeSpan.Zero;
        while (true)
        {
            long passFrames = 0;
            using var capture = Open();
            var fps = Info.Fps > 0 ? Info.Fps : 25;
            var reportedCount = Info.FrameCount;
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                HelperPriority.Apply();
                var image = new Mat();
                if (!capture.Read(image) || image.Empty())
                {
                    image.Dispose();
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
                var frame = new Frame(FrameImages.Normalize(image, _options.Width, _options.Height), index++, timestamp, _time.GetUtcNow());
                passFrames++;
                yield return frame;
            }
            if (passFrames == 0)
            {
                throw new SourceException(SourceErrorKind.NotAVideo, $"{DisplayUri}: opened but no frame could be decoded");
            }
            if (reportedCount > 0 && passFrames < reportedCount * TruncatedFraction)
            {
                throw new SourceException(SourceErrorKind.Truncated,
                    $"{DisplayUri}: decoding stopped after {passFrames} of {reportedCount} frames (truncated or corrupt file; not replayed)");
            }
            if (!_options.Loop)
            {
                yield break;
            }
            loopOffset += TimeSpan.FromSeconds(passFrames / fps);
        }
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private VideoCapture Open()
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
        // FFMPEG explicitly: the ANY probe order lets image-sequence backends claim arbitrary bytes.
        var capture = new VideoCapture(_path, VideoCaptureAPIs.FFMPEG);
        if (!capture.IsOpened())
        {
            capture.Dispose();
            throw new SourceException(SourceErrorKind.NotAVideo, $"{DisplayUri}: not a video the decoder understands (unknown container or codec, or truncated header)");
        }
        var count = (long)Math.Max(0, capture.Get(VideoCaptureProperties.FrameCount));
        var fps = capture.Get(VideoCaptureProperties.Fps);
        var width = _options.Width > 0 ? _options.Width : capture.FrameWidth;
        var height = _options.Height > 0 ? _options.Height : capture.FrameHeight;
        Info = new SourceInfo(width, height, double.IsFinite(fps) && fps > 0 && fps < 1000 ? fps : 25, count, IsLive: false);
        return capture;
    }

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
