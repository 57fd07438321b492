using OpenCvSharp;

namespace StreamMtl.Ingest.Frames;

/// <summary>One decoded video frame: owns its BGR pixels (and ground truth, when the source has it).</summary>
public sealed class Frame : IDisposable
{
    public Frame(Mat image, long index, TimeSpan timestamp, DateTimeOffset captureTime, FrameTruth? truth = null)
    {
        if (image.Empty() || image.Type() != MatType.CV_8UC3)
        {
            throw new ArgumentException($"frame image must be a non-empty CV_8UC3 (BGR) Mat, got {image.Type()} {image.Width}x{image.Height}", nameof(image));
        }
        Image = image;
        Index = index;
        Timestamp = timestamp;
        CaptureTime = captureTime;
        Truth = truth;
    }

    /// <summary>BGR8 pixels, owned by this frame.</summary>
    public Mat Image { get; }

    /// <summary>Position in the source's sequence, starting at 0; gaps mean frames were skipped.</summary>
    public long Index { get; }

    /// <summary>Presentation time relative to the first frame of the source.</summary>
    public TimeSpan Timestamp { get; }

    /// <summary>Wall-clock time the frame was captured or decoded.</summary>
    public DateTimeOffset CaptureTime { get; }

    /// <summary>Per-pixel ground truth, present only for sources that know it (the synthetic camera).</summary>
    public FrameTruth? Truth { get; }

    public int Width => Image.Width;

    public int Height => Image.Height;

    public bool IsDisposed { get; private set; }

    public void Dispose()
    {
        if (IsDisposed)
        {
            return;
        }
        IsDisposed = true;
        Image.Dispose();
    }
}
