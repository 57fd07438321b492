using OpenCvSharp;
using StreamMtl.Ingest.Frames;
using StreamMtl.Pipeline.Model;
using StreamMtl.Pipeline.Runners;
using StreamMtl.Training.Teachers;
using static TorchSharp.torch;

namespace StreamMtl.Training.Data;

/// <summary>
/// Real frames with a feature teacher's maps (<c>train --features DIR</c>): the folder <c>streammtl label</c> writes with a
/// features teacher (DIR/images/ID.png beside DIR/features/ID.npy, [1,C,h,w] or [C,h,w]). Loaded once: each image resized
/// to the training size, each map bilinearly resized to the model's token grid (size / patch) when the teacher's stride
/// differs. Any file that is missing, unreadable or of another channel count is an error naming it.
/// </summary>
public sealed class FeatureFrames
{
    private readonly List<byte[]> _images = [];
    private readonly List<float[]> _features = [];

    public FeatureFrames(string directory, int width, int height, int patch)
    {
        Directory = directory;
        Width = width;
        Height = height;
        Rows = height / patch;
        Cols = width / patch;
        string images = Path.Combine(directory, "images");
        string features = Path.Combine(directory, "features");
        if (!System.IO.Directory.Exists(directory))
        {
            throw new DatasetException($"{directory}: no such directory");
        }
        foreach (string folder in new[] { images, features })
        {
            if (!System.IO.Directory.Exists(folder))
            {
                throw new DatasetException($"{folder}: missing; --features reads the layout `streammtl label --teacher features=MODEL.onnx:SPEC.json` writes (images/ and features/)");
            }
        }
        foreach (string image in System.IO.Directory.EnumerateFiles(images, "*.png").Order(StringComparer.Ordinal))
        {
            string npy = Path.Combine(features, Path.GetFileNameWithoutExtension(image) + ".npy");
            if (!File.Exists(npy))
            {
                throw new DatasetException($"{npy}: missing (the features of {image})");
            }
            _images.Add(ReadImage(image));
            _features.Add(ReadFeatures(npy));
        }
        if (_images.Count == 0)
        {
            throw new DatasetException($"{images}: no .png images");
        }
    }

    public string Directory { get; }

    public int Width { get; }

    public int Height { get; }

    /// <summary>The token grid the maps are resized to.</summary>
    public int Rows { get; }

    public int Cols { get; }

    /// <summary>The teacher's feature channels.</summary>
    public int Channels { get; private set; }

    public int Count => _images.Count;

    public string Description => $"{Count} real frames with {Channels}-channel teacher features from {Directory} at {Width}x{Height}";

    /// <summary>
    /// <paramref name="count"/> frames drawn with <paramref name="rng"/>, each mirrored left-right with probability 1/2 (maps
    /// too): normalised images [B,3,H,W] and target maps [B,C,Rows,Cols].
    /// </summary>
    public (Tensor Images, Tensor Targets) Sample(Random rng, int count, ModelConfig config)
    {
        using var scope = NewDisposeScope();
        var images = new List<Tensor>();
        var targets = new List<Tensor>();
        for (int b = 0; b < count; b++)
        {
            int i = rng.Next(Count);
            bool mirror = rng.Next(2) == 1;
            var image = ImageTensors.FromBgr(_images[i], Width, Height, config);
            var target = tensor(_features[i]).view(1, Channels, Rows, Cols);
            images.Add(mirror ? image.flip(3) : image);
            targets.Add(mirror ? target.flip(3) : target);
        }
        return (cat(images, 0).MoveToOuterDisposeScope(), cat(targets, 0).MoveToOuterDisposeScope());
    }

    private byte[] ReadImage(string path)
    {
        using var read = Cv2.ImRead(path, ImreadModes.Color);
        if (read.Empty())
        {
            throw new DatasetException($"{path}: not an image OpenCV can read (corrupt or truncated?)");
        }
        using var resized = new Mat();
        if (read.Width > Width && read.Height > Height)
        {
            Downscale.Area(read, resized, Width, Height);
        }
        else
        {
            Cv2.Resize(read, resized, new OpenCvSharp.Size(Width, Height), 0, 0, InterpolationFlags.Linear);
        }
        resized.GetArray(out Vec3b[] pixels);
        return System.Runtime.InteropServices.MemoryMarshal.AsBytes(pixels.AsSpan()).ToArray();
    }

    private float[] ReadFeatures(string path)
    {
        float[] values;
        long[] shape;
        try
        {
            (values, shape) = Npy.Read(path);
        }
        catch (InvalidDataException e)
        {
            throw new DatasetException(e.Message);
        }
        if (!(shape.Length == 4 && shape[0] == 1 || shape.Length == 3) || shape.Skip(shape.Length - 3).Any(d => d < 1))
        {
            throw new DatasetException($"{path}: shape [{string.Join(",", shape)}]; a feature map is [1,C,h,w] or [C,h,w] (a features teacher's inner node, e.g. ResNet-18 layer3)");
        }
        int c = (int)shape[^3], h = (int)shape[^2], w = (int)shape[^1];
        if (Channels == 0)
        {
            Channels = c;
        }
        else if (c != Channels)
        {
            throw new DatasetException($"{path}: {c} channels, but the maps before it have {Channels}");
        }
        if (values.Any(v => !float.IsFinite(v)))
        {
            throw new DatasetException($"{path}: holds a value that is not finite");
        }
        return Planes.Resize(values, c, w, h, Cols, Rows, InterpolationFlags.Linear);
    }
}
