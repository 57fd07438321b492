using OpenCvSharp;
using StreamMtl.Ingest.Synthetic;

namespace StreamMtl.Server.Capacity;

/// <summary>A source's own frame rate where it can be known without reading it live: a synthetic camera's spec, a local file's container.</summary>
public static class NominalFps
{
    /// <summary>The frame rate, or null for a network source (the run then judges by the frames the service ingested).</summary>
    public static double? Of(string uri)
    {
        if (uri.StartsWith("synthetic:", StringComparison.OrdinalIgnoreCase))
        {
            return SyntheticSpec.Parse(uri).Fps;
        }
        string path = uri.Split('#')[0];
        if (!File.Exists(path))
        {
            return null;
        }
        using var capture = new VideoCapture(path, VideoCaptureAPIs.FFMPEG);
        double fps = capture.IsOpened() ? capture.Get(VideoCaptureProperties.Fps) : 0;
        return fps is > 0 and < 1000 ? fps : null;
    }
}
