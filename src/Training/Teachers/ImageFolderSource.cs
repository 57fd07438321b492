using System.Runtime.CompilerServices;
using OpenCvSharp;
using StreamMtl.Ingest.Frames;
using StreamMtl.Ingest.Sources;

namespace StreamMtl.Training.Teachers;

/// <summary>A directory of images as a frame source: every image file (png, jpg, jpeg, bmp, tif, tiff, webp) in ordinal name order, read with OpenCV.</summary>
public sealed class ImageFolderSource : IFrameSource
{
    private static readonly string[] Extensions = [".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"];
    private readonly int _width;
    private readonly int _height;

    /// <summary>The images of <paramref name="directory"/>; frames are resized to <paramref name="width"/> x <paramref name="height"/> unless 0.</summary>
    public ImageFolderSource(string directory, int width = 0, int height = 0)
    {
        if (!Directory.Exists(directory))
        {
            throw new SourceException(SourceErrorKind.NotFound, $"no such directory: {directory}");
        }
        Files = [.. Directory.EnumerateFiles(directory).Where(f => Extensions.Contains(Path.GetExtension(f).ToLowerInvariant())).Order(StringComparer.Ordinal)];
        if (Files.Count == 0)
        {
            throw new SourceException(SourceErrorKind.NotFound, $"{directory}: no image files ({string.Join(", ", Extensions)})");
        }
        DisplayUri = directory;
        _width = width;
        _height = height;
    }

    /// <summary>The images, in the order they are read; frame i is Files[i].</summary>
    public IReadOnlyList<string> Files { get; }

    public string DisplayUri { get; }

    public SourceInfo Info => new(_width, _height, 0, Files.Count);

    public async IAsyncEnumerable<Frame> ReadAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await Task.Yield();
        for (int i = 0; i < Files.Count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var image = Cv2.ImRead(Files[i], ImreadModes.Color);
            if (image.Empty())
            {
                image.Dispose();
                throw new SourceException(SourceErrorKind.Corrupt, $"{Files[i]}: not an image OpenCV can read");
            }
            if (_width > 0 && _height > 0 && (image.Width != _width || image.Height != _height))
            {
                var resized = new Mat();
                Downscale.Area(image, resized, _width, _height);
                image.Dispose();
                image = resized;
            }
            yield return new Frame(image, i, TimeSpan.Zero, DateTimeOffset.UtcNow);
        }
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
