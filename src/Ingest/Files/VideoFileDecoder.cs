using OpenCvSharp;
using StreamMtl.Ingest.Frames;
using StreamMtl.Ingest.Sources;

namespace StreamMtl.Ingest.Files;

/// <summary>One pass over a video file's frames, BGR8 at the size the source's options ask for (or the file's own).</summary>
internal interface IVideoFileDecoder : IAsyncDisposable
{
    int Width { get; }
    int Height { get; }

    /// <summary>Frames per second the file declares; 0 when unknown.</summary>
    double Fps { get; }

    /// <summary>Frames the file's header promises (an estimate); 0 when unknown.</summary>
    long FrameCount { get; }

    /// <summary>The next frame, or null at the end of the file.</summary>
    ValueTask<Mat?> ReadAsync(CancellationToken cancellationToken);

    /// <summary>What the decoder said about a failure, for error messages; empty when it says nothing.</summary>
    string Diagnostics { get; }

    /// <summary>The decoding child process's id; 0 when decoding runs in this process.</summary>
    int ProcessId { get; }
}

/// <summary>OpenCV's VideoCapture with its bundled FFmpeg, in process.</summary>
internal sealed class OpenCvFileDecoder : IVideoFileDecoder
{
    private readonly VideoCapture _capture;
    private readonly SourceOptions _options;

    private OpenCvFileDecoder(VideoCapture capture, SourceOptions options)
    {
        _capture = capture;
        _options = options;
        FrameCount = (long)Math.Max(0, capture.Get(VideoCaptureProperties.FrameCount));
        var fps = capture.Get(VideoCaptureProperties.Fps);
        Fps = double.IsFinite(fps) && fps > 0 && fps < 1000 ? fps : 0;
        Width = options.Width > 0 ? options.Width : capture.FrameWidth;
        Height = options.Height > 0 ? options.Height : capture.FrameHeight;
    }

    public int Width { get; }
    public int Height { get; }
    public double Fps { get; }
    public long FrameCount { get; }
    public string Diagnostics => "";
    public int ProcessId => 0;

    /// <summary>Opens <paramref name="path"/>; null when OpenCV cannot (unknown container or codec, truncated header).</summary>
    public static OpenCvFileDecoder? Open(string path, SourceOptions options)
    {
        // FFMPEG explicitly: the ANY probe order lets image-sequence backends claim arbitrary bytes.
        var capture = new VideoCapture(path, VideoCaptureAPIs.FFMPEG);
        if (!capture.IsOpened())
        {
            capture.Dispose();
            return null;
        }
        return new OpenCvFileDecoder(capture, options);
    }

    public ValueTask<Mat?> ReadAsync(CancellationToken cancellationToken)
    {
        var image = new Mat();
        if (!_capture.Read(image) || image.Empty())
        {
            image.Dispose();
            return ValueTask.FromResult<Mat?>(null);
        }
        return ValueTask.FromResult<Mat?>(FrameImages.Normalize(image, _options.Width, _options.Height));
    }

    public ValueTask DisposeAsync()
    {
        _capture.Dispose();
        return ValueTask.CompletedTask;
    }
}
