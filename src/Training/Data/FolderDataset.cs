using System.Text.Json;
using StreamMtl.Pipeline.Model;
using StreamMtl.Training.Teachers;

namespace StreamMtl.Training.Data;

/// <summary>
/// The generic folder layout (<see cref="FolderLayout"/>, docs/datasets.md) that <c>streammtl label</c> writes and users fill by
/// hand: images/ID.png (or .jpg), segmentation/ID.png, depth/ID.png, normals/ID.png, classes.json. Every label file is optional
/// per sample. Splits: DIR/splits/train.txt and DIR/splits/val.txt when present (ids, one per line), else the last tenth of
/// the ids in name order is held out (a recording's final stretch, not frames interleaved with the training ones).
/// </summary>
public sealed class FolderDataset : Dataset
{
    private static readonly string[] ImageExtensions = [".png", ".jpg", ".jpeg"];
    private readonly Dictionary<DataSplit, SampleFiles[]> _splits;
    private readonly byte _ignore;

    private FolderDataset(string root, string[] classes, byte ignore, VisionTask[] tasks, Dictionary<DataSplit, SampleFiles[]> splits, bool teachers)
        : base("folder", root)
    {
        Classes = classes;
        _ignore = ignore;
        Tasks = tasks;
        _splits = splits;
        Labels = teachers ? "teacher outputs (teachers.json): the metrics are student-vs-teacher agreement" : "ground truth";
    }

    public override IReadOnlyList<string> Classes { get; }

    public override IReadOnlyList<VisionTask> Tasks { get; }

    public override string Labels { get; }

    public override IReadOnlyList<SampleFiles> Samples(DataSplit split) => _splits[split];

    /// <summary>Held-out share of the samples when the layout has no split files.</summary>
    public const int HeldOutEvery = 10;

    public static FolderDataset Open(string root)
    {
        string images = Path.Combine(root, "images");
        if (!Directory.Exists(images))
        {
            throw new DatasetException($"{images}: missing folder (the folder layout keeps its frames in images/)");
        }
        var byId = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var file in Directory.EnumerateFiles(images).Where(f => ImageExtensions.Contains(Path.GetExtension(f).ToLowerInvariant())).Order(StringComparer.Ordinal))
        {
            string id = Path.GetFileNameWithoutExtension(file);
            if (!byId.TryAdd(id, file))
            {
                throw new DatasetException($"{file}: a second image for sample {id} (beside {byId[id]})");
            }
        }
        var tasks = new List<VisionTask>();
        foreach (var task in new[] { VisionTask.Segmentation, VisionTask.Depth, VisionTask.Normals })
        {
            string folder = Path.Combine(root, task.Name());
            if (Directory.Exists(folder) && Directory.EnumerateFiles(folder).Any())
            {
                tasks.Add(task);
            }
        }
        var (classes, ignore) = tasks.Contains(VisionTask.Segmentation) || File.Exists(Path.Combine(root, "classes.json"))
            ? ReadClasses(Path.Combine(root, "classes.json"))
            : ([], FolderLayout.Ignore);
        SampleFiles Sample(string id)
        {
            if (!byId.TryGetValue(id, out var image))
            {
                throw new DatasetException($"{Path.Combine(images, id + ".png")}: missing file (sample {id} is listed in a split file)");
            }
            return new SampleFiles(id, image,
                Label(VisionTask.Segmentation, id, ".png"),
                Label(VisionTask.Depth, id, ".png") ?? Label(VisionTask.Depth, id, ".npy"),
                Label(VisionTask.Normals, id, ".png"));
        }
        string? Label(VisionTask task, string id, string extension) =>
            tasks.Contains(task) && File.Exists(Path.Combine(root, task.Name(), id + extension)) ? Path.Combine(root, task.Name(), id + extension) : null;

        string train = Path.Combine(root, "splits", "train.txt");
        string val = Path.Combine(root, "splits", "val.txt");
        Dictionary<DataSplit, SampleFiles[]> splits;
        if (File.Exists(train) || File.Exists(val))
        {
            splits = new()
            {
                [DataSplit.Train] = [.. ReadIds(train).Select(Sample)],
                [DataSplit.Validation] = [.. ReadIds(val).Select(Sample)],
            };
        }
        else
        {
            if (byId.Count < 2)
            {
                throw new DatasetException($"{images}: {byId.Count} image(s); a training and a held-out split need at least 2 (or splits/train.txt and splits/val.txt)");
            }
            var ids = byId.Keys.ToArray();
            int held = Math.Max(1, ids.Length / HeldOutEvery);
            splits = new()
            {
                [DataSplit.Train] = [.. ids[..^held].Select(Sample)],
                [DataSplit.Validation] = [.. ids[^held..].Select(Sample)],
            };
        }
        return new FolderDataset(root, classes, ignore, [.. tasks], splits, File.Exists(Path.Combine(root, "teachers.json")));
    }

    protected override int MapLabel(byte stored) => stored == _ignore ? FolderLayout.Ignore : stored < Classes.Count ? stored : -1;

    protected override string LabelRule => $"ids 0..{Classes.Count - 1} of classes.json, {_ignore} = ignore";

    /// <summary>Relative and inverse depth (depth/ID.npy) have no metric scale; the trainer's depth loss and metrics are metric.</summary>
    protected override float[] ReadDepth(string path, string image, int w, int h) =>
        Path.GetExtension(path).Equals(".npy", StringComparison.OrdinalIgnoreCase)
            ? throw new DatasetException($"{path}: relative or inverse depth (float .npy) has no metric scale; training and evaluating on it needs a " +
                "scale-and-shift-invariant loss, which the trainer does not have: use a metric-depth teacher (16-bit PNG) or move depth/ aside")
            : base.ReadDepth(path, image, w, h);

    private static (string[] Classes, byte Ignore) ReadClasses(string path)
    {
        if (!File.Exists(path))
        {
            throw new DatasetException($"{path}: missing file (the class table of segmentation/)");
        }
        try
        {
            using var json = JsonDocument.Parse(File.ReadAllText(path));
            if (!json.RootElement.TryGetProperty("classes", out var list) || list.ValueKind != JsonValueKind.Array)
            {
                throw new DatasetException($"{path}: \"classes\" must be an array of class names");
            }
            string[] classes = [.. list.EnumerateArray().Select(c => c.ValueKind == JsonValueKind.String ? c.GetString()!
                : throw new DatasetException($"{path}: \"classes\" must be an array of class names, found {c.ValueKind}"))];
            int ignore = json.RootElement.TryGetProperty("ignore", out var value) ? value.GetInt32() : FolderLayout.Ignore;
            if (classes.Length is < 2 or > 255 || ignore is < 0 or > 255 || ignore < classes.Length)
            {
                throw new DatasetException($"{path}: {classes.Length} classes and ignore {ignore}: 2..255 classes, and the ignore value above the class ids");
            }
            return (classes, (byte)ignore);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException)
        {
            throw new DatasetException($"{path}: not a class table ({e.Message})");
        }
    }
}
