using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using OpenCvSharp;

namespace StreamMtl.Training.Teachers;

/// <summary>
/// Writes the generic folder layout for a user's own frames (docs/datasets.md): DIR/images/ID.png, one label file per task
/// (segmentation/ID.png 8-bit class ids, 255 = ignore; depth/ID.png 16-bit millimetres, 0 = invalid, or depth/ID.npy float32
/// for relative and inverse depth; normals/ID.png, (n + 1) / 2 * 255 in RGB, 0 = invalid; features/ID.npy), optional soft
/// targets (soft/segmentation/ID.npy, float16 [C,H,W] probabilities), DIR/classes.json and DIR/teachers.json.
/// </summary>
public sealed class FolderLayout
{
    /// <summary>The label value meaning "no label for this pixel".</summary>
    public const byte Ignore = 255;

    /// <summary>The format name written to teachers.json.</summary>
    public const string Format = "streammtl-folder/1";

    private readonly List<JsonObject> _samples = [];

    private FolderLayout(string directory) => Directory = directory;

    public string Directory { get; }

    public int Samples => _samples.Count;

    /// <summary>A layout in <paramref name="directory"/>, created if absent; an existing non-empty directory is refused (nothing is overwritten).</summary>
    public static FolderLayout Create(string directory)
    {
        if (System.IO.Directory.Exists(directory) && System.IO.Directory.EnumerateFileSystemEntries(directory).Any())
        {
            throw new IOException($"{directory} is not empty; the layout is written to a new or empty directory");
        }
        System.IO.Directory.CreateDirectory(Path.Combine(directory, "images"));
        return new FolderLayout(directory);
    }

    /// <summary>The sample id of a frame index: six digits, zero-padded (more when the index needs them).</summary>
    public static string Id(long index) => index.ToString("D6", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Writes classes.json from a segmentation teacher's class names.</summary>
    public void WriteClasses(IReadOnlyList<string> classes)
    {
        var json = new JsonObject
        {
            ["classes"] = new JsonArray([.. classes.Select(c => (JsonNode)c)]),
            ["ignore"] = Ignore,
        };
        File.WriteAllText(Path.Combine(Directory, "classes.json"), json.ToJsonString(Indented) + "\n");
    }

    /// <summary>Writes one sample: the frame and every teacher's output for it.</summary>
    public void Write(string id, Mat bgr, IReadOnlyList<(OnnxTeacher Teacher, TeacherOutput Output)> outputs, JsonObject? provenance = null)
    {
        Save(Path.Combine(Directory, "images", id + ".png"), bgr);
        foreach (var (teacher, output) in outputs)
        {
            string folder = System.IO.Directory.CreateDirectory(Path.Combine(Directory, teacher.Task)).FullName;
            switch (output.Kind)
            {
                case OutputKind.ClassLogits:
                    using (var labels = Mat.FromPixelData(output.Height, output.Width, MatType.CV_8UC1, output.Labels!))
                    {
                        Save(Path.Combine(folder, id + ".png"), labels);
                    }
                    if (output.Probabilities is { } probabilities)
                    {
                        string soft = System.IO.Directory.CreateDirectory(Path.Combine(Directory, "soft", teacher.Task)).FullName;
                        Npy.Write(Path.Combine(soft, id + ".npy"), probabilities, [probabilities.Length / (output.Width * output.Height), output.Height, output.Width], half: true);
                    }
                    break;
                case OutputKind.MetricDepth:
                    using (var millimetres = Mat.FromPixelData(output.Height, output.Width, MatType.CV_16UC1, Millimetres(output.Depth!)))
                    {
                        Save(Path.Combine(folder, id + ".png"), millimetres);
                    }
                    break;
                case OutputKind.RelativeDepth or OutputKind.InverseDepth:
                    Npy.Write(Path.Combine(folder, id + ".npy"), output.Depth, [output.Height, output.Width]);
                    break;
                case OutputKind.Normals:
                    using (var normals = Mat.FromPixelData(output.Height, output.Width, MatType.CV_8UC3, NormalsBgr(output.Normals!)))
                    {
                        Save(Path.Combine(folder, id + ".png"), normals);
                    }
                    break;
                case OutputKind.Features:
                    Npy.Write(Path.Combine(folder, id + ".npy"), output.Features, output.FeatureShape!);
                    break;
            }
        }
        var sample = provenance ?? [];
        sample["id"] = id;
        _samples.Add(sample);
    }

    /// <summary>Writes teachers.json: the format, the source, which teacher produced which folder (with its spec and the model's SHA-256), and the samples.</summary>
    public void Finish(IReadOnlyList<OnnxTeacher> teachers, JsonObject run)
    {
        var json = new JsonObject { ["format"] = Format };
        foreach (var (key, value) in run)
        {
            json[key] = value?.DeepClone();
        }
        json["teachers"] = new JsonArray([.. teachers.Select(t => (JsonNode)new JsonObject
        {
            ["task"] = t.Task,
            ["kind"] = TeacherSpec.KindName(t.Spec.Kind),
            ["files"] = Files(t),
            ["model"] = Path.GetFullPath(t.ModelPath),
            ["model_sha256"] = Sha256(t.ModelPath),
            ["spec_file"] = Path.GetFullPath(t.SpecPath),
            ["spec"] = JsonNode.Parse(t.Spec.Json.GetRawText()),
            ["provider"] = t.Provider,
        })]);
        json["samples"] = new JsonArray([.. _samples.Select(s => (JsonNode)s)]);
        File.WriteAllText(Path.Combine(Directory, "teachers.json"), json.ToJsonString(Indented) + "\n");
    }

    private static string Files(OnnxTeacher teacher) => teacher.Spec.Kind switch
    {
        OutputKind.ClassLogits => $"{teacher.Task}/ID.png (8-bit class ids, {Ignore} = ignore); soft/{teacher.Task}/ID.npy with --soft",
        OutputKind.MetricDepth => $"{teacher.Task}/ID.png (16-bit millimetres, 0 = invalid)",
        OutputKind.RelativeDepth or OutputKind.InverseDepth => $"{teacher.Task}/ID.npy (float32 [H,W], the model's values: align by scale and shift)",
        OutputKind.Normals => $"{teacher.Task}/ID.png (RGB = (n + 1) / 2 * 255, x right, y down, z forward; 0,0,0 = invalid)",
        _ => $"{teacher.Task}/ID.npy (float32, the model's output shape)",
    };

    /// <summary>Metric depth as 16-bit millimetres; 0 (invalid) for non-positive depth and depth beyond 65.535 m.</summary>
    public static ushort[] Millimetres(float[] metres)
    {
        var result = new ushort[metres.Length];
        for (int i = 0; i < metres.Length; i++)
        {
            float mm = MathF.Round(metres[i] * 1000);
            result[i] = mm is >= 1 and <= ushort.MaxValue ? (ushort)mm : (ushort)0;
        }
        return result;
    }

    /// <summary>Unit normals as BGR bytes of RGB = (n + 1) / 2 * 255; a zero vector (no normal) stays 0,0,0.</summary>
    public static byte[] NormalsBgr(float[] normals)
    {
        var bytes = new byte[normals.Length];
        for (int i = 0; i < normals.Length; i += 3)
        {
            if (normals[i] == 0 && normals[i + 1] == 0 && normals[i + 2] == 0)
            {
                continue;
            }
            bytes[i] = ToByte(normals[i + 2]);
            bytes[i + 1] = ToByte(normals[i + 1]);
            bytes[i + 2] = ToByte(normals[i]);
        }
        return bytes;

        static byte ToByte(float v) => (byte)Math.Clamp(MathF.Round((v + 1) * 127.5f), 0, 255);
    }

    private static void Save(string path, Mat image)
    {
        if (!Cv2.ImWrite(path, image))
        {
            throw new IOException($"could not write {path}");
        }
    }

    private static string Sha256(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    // Relaxed escaping: paths and prose stay readable (the files are read as JSON, never embedded in HTML).
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
}
