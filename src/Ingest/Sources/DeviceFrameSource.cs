using System.Runtime.CompilerServices;
using OpenCvSharp;
using StreamMtl.Ingest.Frames;

namespace StreamMtl.Ingest.Sources;

/// <summary>A V4L2 webcam (<c>/dev/videoN</c>) read through OpenCvSharp's VideoCapture.</summary>
public sealed class DeviceFrameSource : IFrameSource
{
    private readonly string _device;
    private readonly SourceOptions _options;
    private readonly TimeProvider _time;

    public DeviceFrameSource(string device, SourceOptions? options = null, TimeProvider? time = null)
    {
        _device = device;
        _options = options ?? SourceOptions.Default;
        _time = time ?? TimeProvider.System;
        DisplayUri = device;
        Info = new SourceInfo(_options.Width, _options.Height, 0, IsLive: true);
    }

    public string DisplayUri { get; }

    public SourceInfo Info { get; private set; }

    public async IAsyncEnumerable<Frame> ReadAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using var capture = Open();
        var start = _time.GetTimestamp();
        long index = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            var image = new Mat();
            // VideoCapture.Read blocks in the driver (OpenCV's own select timeout is 10 s); keep it off the caller's thread.
            var ok = await Task.Run(() =>
            {
                HelperPriority.Apply();
                return capture.Read(image);
            }, CancellationToken.None).ConfigureAwait(false);
            if (!ok || image.Empty())
            {
                image.Dispose();
                throw new SourceException(SourceErrorKind.Unreachable, $"{DisplayUri}: device stopped delivering frames (unplugged or busy)");
            }
            yield return new Frame(FrameImages.Normalize(image, _options.Width, _options.Height), index++, _time.GetElapsedTime(start), _time.GetUtcNow());
        }
        cancellationToken.ThrowIfCancellationRequested();
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private VideoCapture Open()
    {
        if (!File.Exists(_device))
        {
            throw new SourceException(SourceErrorKind.NotFound, $"no such video device: {DisplayUri}");
        }
        try
        {
            using (new FileStream(_device, FileMode.Open, FileAccess.Read))
            {
            }
        }
        catch (UnauthorizedAccessException ex)
        {
            throw new SourceException(SourceErrorKind.Forbidden, $"no permission to open {DisplayUri} (is the user in the 'video' group?)", ex);
        }
        catch (IOException)
        {
            // Busy or not a character device; VideoCapture below gives the verdict.
        }
        var capture = new VideoCapture(_device, VideoCaptureAPIs.V4L2);
        if (!capture.IsOpened())
        {
            capture.Dispose();
            throw new SourceException(SourceErrorKind.NotAVideo, $"{DisplayUri} exists but could not be opened as a V4L2 capture device");
        }
        if (_options.Width > 0)
        {
            capture.Set(VideoCaptureProperties.FrameWidth, _options.Width);
            capture.Set(VideoCaptureProperties.FrameHeight, _options.Height);
        }
        var fps = capture.Get(VideoCaptureProperties.Fps);
        Info = new SourceInfo(_options.Width > 0 ? _options.Width : capture.FrameWidth, _options.Height > 0 ? _options.Height : capture.FrameHeight,
            double.IsFinite(fps) && fps > 0 ? fps : 0, IsLive: true);
        return capture;
    }
}
