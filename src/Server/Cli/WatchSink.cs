using OpenCvSharp;

namespace StreamMtl.Server.Cli;

/// <summary>Where watch writes its panels: numbered PNGs in a directory, or a video file.</summary>
public sealed class WatchSink : IDisposable
{
    private readonly string _path;
    private readonly bool _video;
    private VideoWriter? _writer;

    private WatchSink(string path, bool video)
    {
        _path = path;
        _video = video;
    }

    public static WatchSink Open(string path)
    {
        string ext = Path.GetExtension(path).ToLowerInvariant();
        bool video = ext is ".mp4" or ".avi" or ".mkv";
        if (!video)
        {
            Directory.CreateDirectory(path);
        }
        else if (Path.GetDirectoryName(Path.GetFullPath(path)) is { } dir)
        {
            Directory.CreateDirectory(dir);
        }
        return new WatchSink(path, video);
    }

    public void Write(Mat panel, long index)
    {
        if (!_video)
        {
            Cv2.ImWrite(Path.Combine(_path, $"frame_{index:D7}.png"), panel);
            return;
        }
        if (_writer == null)
        {
            FourCC fourcc = Path.GetExtension(_path).Equals(".avi", StringComparison.OrdinalIgnoreCase) ? FourCC.MJPG : FourCC.FromString("mp4v");
            _writer = new VideoWriter(_path, fourcc, 15, panel.Size());
            if (!_writer.IsOpened())
            {
                throw new CliException($"cannot open {_path} for writing (try a directory or .avi)");
            }
        }
        _writer.Write(panel);
    }

    public void Dispose() => _writer?.Dispose();
}
