using OpenCvSharp;
using StreamMtl.Ingest.Frames;

namespace StreamMtl.Pipeline.Streams;

/// <summary>The preprocess stage: resize to the model input size off the inference thread (which then only normalises).</summary>
public static class Preprocess
{
    /// <summary>A new frame at <paramref name="width"/>x<paramref name="height"/> (area interpolation); the caller still owns <paramref name="frame"/>.</summary>
    public static Frame Resize(Frame frame, int width, int height)
    {
        var resized = new Mat();
        try
        {
            if (frame.Width == width && frame.Height == height)
            {
                frame.Image.CopyTo(resized);
            }
            else
            {
                Downscale.Area(frame.Image, resized, width, height);
            }
            return new Frame(resized, frame.Index, frame.Timestamp, frame.CaptureTime);
        }
        catch
        {
            resized.Dispose();
            throw;
        }
    }
}
