using StreamMtl.Pipeline.Model;

namespace StreamMtl.Training.Data;

/// <summary>
/// A data set whose splits are id lists and whose files sit in one folder per kind (NYUD-v2 and PASCAL-Context as the
/// multi-task literature lays them out). A task counts when one of its folders exists; then every listed sample must have a file.
/// </summary>
public abstract class ListedDataset : Dataset
{
    private readonly Dictionary<DataSplit, SampleFiles[]> _splits = [];
    private readonly List<VisionTask> _tasks = [];

    /// <param name="splitFiles">The train and validation id lists, relative to the root.</param>
    /// <param name="images">Where a sample's image may be, relative to the root, "{0}" standing for the id; the first that exists is read.</param>
    /// <param name="labels">The same per task.</param>
    protected ListedDataset(string kind, string root, (string Train, string Validation) splitFiles, string[] images,
        IReadOnlyDictionary<VisionTask, string[]> labels)
        : base(kind, root)
    {
        foreach (var (task, candidates) in labels)
        {
            if (candidates.Any(c => Directory.Exists(Path.Combine(root, Path.GetDirectoryName(c)!))))
            {
                _tasks.Add(task);
            }
        }
        if (_tasks.Count == 0)
        {
            throw new DatasetException($"{root}: none of the label folders {string.Join(", ", labels.Values.SelectMany(c => c).Select(Path.GetDirectoryName).Distinct())} exists");
        }
        string File(string[] candidates, string id)
        {
            var paths = candidates.Select(c => Path.Combine(root, string.Format(System.Globalization.CultureInfo.InvariantCulture, c, id))).ToArray();
            return FirstExisting(paths) ?? throw new DatasetException($"{paths[^1]}: missing file");
        }
        string? Label(VisionTask task, string id) => _tasks.Contains(task) ? File(labels[task], id) : null;
        foreach (var (split, list) in new[] { (DataSplit.Train, splitFiles.Train), (DataSplit.Validation, splitFiles.Validation) })
        {
            _splits[split] = [.. ReadIds(Path.Combine(root, list)).Select(id => new SampleFiles(id, File(images, id),
                Label(VisionTask.Segmentation, id), Label(VisionTask.Depth, id), Label(VisionTask.Normals, id)))];
        }
    }

    public override IReadOnlyList<VisionTask> Tasks => _tasks;

    public override IReadOnlyList<SampleFiles> Samples(DataSplit split) => _splits[split];
}
