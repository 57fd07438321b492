using OpenCvSharp;
using StreamMtl.Ingest.Frames;
using StreamMtl.Pipeline.Model;
using StreamMtl.Training.Teachers;

namespace StreamMtl.Training.Data;

/// <summary>The two splits every data set on disk has: what training reads and what evaluation reads.</summary>
public enum DataSplit
{
    Train,
    Validation,
}

/// <summary>One sample's files: the image and a label file per task (null: the sample has no label for that task).</summary>
public sealed record SampleFiles(string Id, string Image, string? Segmentation, string? Depth, string? Normals);

/// <summary>
/// A multi-task data set on disk (docs/datasets.md): a class table, the tasks it has labels for, and a train and a
/// validation split of samples. Frames are loaded on demand as <see cref="TruthFrame"/>s in the synthetic camera's
/// conventions: class ids with 255 = ignore, metric depth with 0 = invalid, camera-space unit normals with 0,0,0 = invalid.
/// Every error is a <see cref="DatasetException"/> naming the file.
/// </summary>
public abstract class Dataset
{
    /// <summary>The data set kinds <see cref="Open"/> reads, as written before the colon of <c>--data KIND:PATH</c>.</summary>
    public static IReadOnlyList<string> Kinds { get; } = ["folder", "nyud", "pascal", "pascal59"];

    protected Dataset(string kind, string root)
    {
        Kind = kind;
        Root = root;
    }

    public string Kind { get; }

    public string Root { get; }

    /// <summary>KIND:PATH, as given to <c>--data</c>.</summary>
    public string Name => $"{Kind}:{Root}";

    /// <summary>Class names, index = class id; empty when the data has no segmentation labels.</summary>
    public abstract IReadOnlyList<string> Classes { get; }

    /// <summary>The tasks the data has labels for.</summary>
    public abstract IReadOnlyList<VisionTask> Tasks { get; }

    /// <summary>What the labels are: ground truth, or a teacher's outputs (then the metrics are student-vs-teacher agreement).</summary>
    public virtual string Labels => "ground truth";

    public abstract IReadOnlyList<SampleFiles> Samples(DataSplit split);

    /// <summary>"N classes (a, b, ...)": a class table in a message, its first eight names.</summary>
    public static string ClassTable(IReadOnlyList<string> classes) =>
        $"{classes.Count} classes ({string.Join(", ", classes.Take(8))}{(classes.Count > 8 ? ", ..." : "")})";

    /// <summary>Opens the data set of <paramref name="kind"/> at <paramref name="root"/> (an existing directory) and checks its lists and files.</summary>
    public static Dataset Open(string kind, string root) => kind switch
    {
        "folder" => FolderDataset.Open(root),
        "nyud" => NyudDataset.Open(root),
        "pascal" => PascalContextDataset.Open(root),
        "pascal59" => PascalContextDataset.Open59(root),
        _ => throw new ArgumentException($"unknown data set kind '{kind}' ({string.Join(", ", Kinds)})", nameof(kind)),
    };

    /// <summary>
    /// The sample's image and labels at <paramref name="width"/> x <paramref name="height"/>: the image resized (area when
    /// shrinking, bilinear when enlarging), the labels by nearest neighbour (no class, depth or normal is invented between two).
    /// </summary>
    public TruthFrame Load(SampleFiles sample, int width, int height)
    {
        using var image = Read(sample.Image, ImreadModes.Color);
        int w = image.Width;
        int h = image.Height;
        var labels = sample.Segmentation is { } seg ? ReadSegmentation(seg, sample.Image, w, h) : Filled(w * h, FrameTruth.Ignore);
        var depth = sample.Depth is { } d ? ReadDepth(d, sample.Image, w, h) : new float[w * h];
        var normals = sample.Normals is { } n ? ReadNormals(n, sample.Image, w, h) : new float[w * h * 3];
        var truth = w == width && h == height
            ? new FrameTruth(w, h, labels, depth, normals)
            : new FrameTruth(width, height, Nearest(labels, 1, w, h, width, height), Nearest(depth, 1, w, h, width, height), Nearest(normals, 3, w, h, width, height));
        return new TruthFrame(Pixels(image, width, height), truth);
    }

    /// <summary>The image's BGR bytes at <paramref name="width"/> x <paramref name="height"/> (area when shrinking, bilinear when enlarging).</summary>
    private static byte[] Pixels(Mat image, int width, int height)
    {
        using var resized = new Mat();
        if (image.Width != width || image.Height != height)
        {
            if (width < image.Width)
            {
                Downscale.Area(image, resized, width, height);
            }
            else
            {
                Cv2.Resize(image, resized, new Size(width, height), 0, 0, InterpolationFlags.Linear);
            }
        }
        var source = resized.Empty() ? image : resized;
        source.GetArray(out Vec3b[] pixels);
        return System.Runtime.InteropServices.MemoryMarshal.AsBytes(pixels.AsSpan()).ToArray();
    }

    /// <summary>
    /// The class id a stored label value means (<see cref="FrameTruth.Ignore"/> for "no label"), or -1 for a value outside the
    /// class table; e.g. NYUD stores classes 1..40 and 0 for unlabelled pixels.
    /// </summary>
    protected abstract int MapLabel(byte stored);

    /// <summary>What the stored label values mean, for an error about one that is not in the table.</summary>
    protected abstract string LabelRule { get; }

    /// <summary>Reads metric depth (metres; 0 = invalid): a 16-bit PNG in millimetres or a float .npy in metres.</summary>
    protected virtual float[] ReadDepth(string path, string image, int w, int h)
    {
        if (Path.GetExtension(path).Equals(".npy", StringComparison.OrdinalIgnoreCase))
        {
            var values = ReadNpy(path, image, w, h, 1);
            for (int i = 0; i < values.Length; i++)
            {
                values[i] = float.IsFinite(values[i]) && values[i] > 0 ? values[i] : 0;
            }
            return values;
        }
        using var millimetres = Read(path, ImreadModes.Unchanged);
        ExpectSize(millimetres, path, image, w, h);
        if (millimetres.Type() != MatType.CV_16UC1)
        {
            throw new DatasetException($"{path}: depth must be a 16-bit single-channel PNG (millimetres), got {millimetres.Type()}");
        }
        millimetres.GetArray(out ushort[] mm);
        return [.. mm.Select(v => v / 1000f)];
    }

    /// <summary>Reads normals: an RGB PNG, (n + 1) / 2 * 255 per axis with 0,0,0 = invalid, or a float .npy [H,W,3] (or [3,H,W]) of vectors.</summary>
    protected virtual float[] ReadNormals(string path, string image, int w, int h)
    {
        float[] normals;
        if (Path.GetExtension(path).Equals(".npy", StringComparison.OrdinalIgnoreCase))
        {
            normals = ReadNpy(path, image, w, h, 3);
        }
        else
        {
            using var png = Read(path, ImreadModes.Unchanged);
            ExpectSize(png, path, image, w, h);
            if (png.Type() != MatType.CV_8UC3)
            {
                throw new DatasetException($"{path}: normals must be an 8-bit RGB PNG, got {png.Type()}");
            }
            png.GetArray(out Vec3b[] bgr);
            normals = new float[w * h * 3];
            for (int i = 0; i < bgr.Length; i++)
            {
                var p = bgr[i];
                if (p.Item0 == 0 && p.Item1 == 0 && p.Item2 == 0)
                {
                    continue;
                }
                normals[3 * i] = p.Item2 / 127.5f - 1;
                normals[3 * i + 1] = p.Item1 / 127.5f - 1;
                normals[3 * i + 2] = p.Item0 / 127.5f - 1;
            }
        }
        for (int i = 0; i < normals.Length; i += 3)
        {
            float x = normals[i], y = normals[i + 1], z = normals[i + 2];
            float length = MathF.Sqrt(x * x + y * y + z * z);
            // Zero, non-finite or degenerate vectors are "no normal", as the metrics and losses expect.
            float scale = float.IsFinite(length) && length > 1e-3f ? 1 / length : 0;
            normals[i] = x * scale;
            normals[i + 1] = y * scale;
            normals[i + 2] = z * scale;
        }
        return normals;
    }

    /// <summary>Reads an image with OpenCV; a file OpenCV cannot decode is an error naming it.</summary>
    protected static Mat Read(string path, ImreadModes mode)
    {
        if (!File.Exists(path))
        {
            throw new DatasetException($"{path}: missing file");
        }
        var image = Cv2.ImRead(path, mode);
        if (image.Empty())
        {
            image.Dispose();
            throw new DatasetException($"{path}: not an image OpenCV can read (corrupt or truncated?)");
        }
        return image;
    }

    private byte[] ReadSegmentation(string path, string image, int w, int h)
    {
        if (IsPalettePng(path))
        {
            throw new DatasetException($"{path}: an indexed-colour (palette) PNG; OpenCV decodes palettes to colours, not class ids: " +
                "store the ids as an 8-bit grayscale PNG (e.g. PIL: Image.fromarray(numpy.array(Image.open(f))).save(f))");
        }
        using var png = Read(path, ImreadModes.Unchanged);
        ExpectSize(png, path, image, w, h);
        if (png.Type() != MatType.CV_8UC1)
        {
            throw new DatasetException($"{path}: class ids must be an 8-bit single-channel PNG, got {png.Type()}");
        }
        png.GetArray(out byte[] stored);
        var labels = new byte[stored.Length];
        for (int i = 0; i < stored.Length; i++)
        {
            int id = MapLabel(stored[i]);
            if (id < 0)
            {
                throw new DatasetException($"{path}: label {stored[i]} at pixel ({i % w}, {i / w}) is not in the class table ({LabelRule})");
            }
            labels[i] = (byte)id;
        }
        return labels;
    }

    private static float[] ReadNpy(string path, string image, int w, int h, int channels)
    {
        if (!File.Exists(path))
        {
            throw new DatasetException($"{path}: missing file");
        }
        float[] values;
        long[] shape;
        try
        {
            (values, shape) = Npy.Read(path);
        }
        catch (Exception e) when (e is InvalidDataException or FormatException or OverflowException or ArgumentException)
        {
            throw new DatasetException(e.Message.StartsWith(path, StringComparison.Ordinal) ? e.Message : $"{path}: not a readable .npy file ({e.Message})");
        }
        long[] squeezed = [.. shape.Where(d => d != 1)];
        bool channelsLast = channels == 1 ? squeezed.SequenceEqual([h, w]) || (h == 1 || w == 1) && values.Length == (long)w * h
            : shape.SequenceEqual([h, w, channels]);
        bool channelsFirst = channels > 1 && shape.SequenceEqual([channels, h, w]);
        if (values.Length != (long)w * h * channels || !(channelsLast || channelsFirst))
        {
            string expected = channels == 1 ? $"[{h},{w}]" : $"[{h},{w},{channels}] or [{channels},{h},{w}]";
            throw new DatasetException($"{path}: shape [{string.Join(",", shape)}] does not match its image {image} ({w}x{h}): expected {expected}");
        }
        if (!channelsFirst)
        {
            return values;
        }
        var interleaved = new float[values.Length];
        int plane = w * h;
        for (int i = 0; i < plane; i++)
        {
            for (int c = 0; c < channels; c++)
            {
                interleaved[i * channels + c] = values[c * plane + i];
            }
        }
        return interleaved;
    }

    private static void ExpectSize(Mat label, string path, string image, int w, int h)
    {
        if (label.Width != w || label.Height != h)
        {
            throw new DatasetException($"{path}: {label.Width}x{label.Height}, but its image {image} is {w}x{h}");
        }
    }

    // PNG signature (8 bytes), IHDR length and type (8), width and height (8), bit depth (1), then the colour type: 3 = palette.
    private static bool IsPalettePng(string path)
    {
        if (!File.Exists(path))
        {
            return false;
        }
        Span<byte> header = stackalloc byte[26];
        using var stream = File.OpenRead(path);
        return stream.ReadAtLeast(header, header.Length, throwOnEndOfStream: false) == header.Length
            && header[1] == (byte)'P' && header[2] == (byte)'N' && header[3] == (byte)'G' && header[25] == 3;
    }

    private static byte[] Filled(int count, byte value)
    {
        var array = new byte[count];
        Array.Fill(array, value);
        return array;
    }

    private static T[] Nearest<T>(T[] source, int channels, int w, int h, int width, int height)
    {
        var result = new T[width * height * channels];
        for (int y = 0; y < height; y++)
        {
            int sy = Math.Min(h - 1, (int)((y + 0.5) * h / height));
            for (int x = 0; x < width; x++)
            {
                int sx = Math.Min(w - 1, (int)((x + 0.5) * w / width));
                Array.Copy(source, (sy * w + sx) * channels, result, (y * width + x) * channels, channels);
            }
        }
        return result;
    }

    /// <summary>The ids listed in a split file, one per line (blank lines skipped); a missing or empty list is an error naming it.</summary>
    protected static string[] ReadIds(string path)
    {
        if (!File.Exists(path))
        {
            throw new DatasetException($"{path}: missing split file");
        }
        string[] ids = [.. File.ReadAllLines(path).Select(l => l.Trim()).Where(l => l.Length > 0)];
        return ids.Length > 0 ? ids : throw new DatasetException($"{path}: the split lists no samples");
    }

    /// <summary><paramref name="path"/> if the file exists, else an error naming it.</summary>
    protected static string Existing(string path) => File.Exists(path) ? path : throw new DatasetException($"{path}: missing file");

    /// <summary>The first of <paramref name="candidates"/> that exists, else null.</summary>
    protected static string? FirstExisting(params string[] candidates) => candidates.FirstOrDefault(File.Exists);
}
