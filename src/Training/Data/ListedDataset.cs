using StreamMtl.Pipeline.Model;

namespace StreamMtl.Training.Data;

/// <summary>
/// A data set whose splits are id lists and whose files sit in one folder per kind (NYUD-v2 and PASCAL-Context as the
/// multi-task literature lays them out). A task whose folder exists must have a file for every listed sample.
/// </summary>
public abstract class ListedDataset : Dataset
{
    private readonly Dictionary<DataSplit, SampleFiles[]> _splits = [];
    private readonly List<VisionTask> _tasks = [];

    /// <param name="splitFiles">The train and validation id lists, relative to the root.</param>
    /// <param name="images">The image folder and the extensions tried, in order.</param>
    /// <param name="labels">Per task, its folder and the extensions tried, in order.</param>
    protected ListedDataset(string kind, string root, (string Train, string Validation) splitFiles, (string Folder, string[] Extensions) images,
        IReadOnlyDictionary<VisionTask, (string Folder, string[] Extensions)> labels)
        : base(kind, root)
    {
        foreach (var (task, (folder, _)) in labels)
        {
            if (Directory.Exists(Path.Combine(root, folder)))
            {
                _tasks.Add(task);
            }
        }
        if (_tasks.Count == 0)
        {
            throw new DatasetException($"{root}: none of the label folders {string.Join(", ", labels.Values.Select(l => l.Folder + "/"))} exists");
        }
        string File(string folder, string[] extensions, string id) =>
            FirstExisting([.. extensions.Select(e => Path.Combine(root, folder, id + e))])
            ?? throw new DatasetException($"{Path.Combine(root, folder, id + extensions[0])}: missing file");
        string? Label(VisionTask task, string id) => _tasks.Contains(task) ? File(labels[task].Folder, labels[task].Extensions, id) : null;
        foreach (var (split, list) in new[] { (DataSplit.Train, splitFiles.Train), (DataSplit.Validation, splitFiles.Validation) })
        {
            _splits[split] = [.. ReadIds(Path.Combine(root, list)).Select(id => new SampleFiles(id, File(images.Folder, images.Extensions, id),
                Label(VisionTask.Segmentation, id), Label(VisionTask.Depth, id), Label(VisionTask.Normals, id)))];
        }
    }

    public override IReadOnlyList<VisionTask> Tasks => _tasks;

    public override IReadOnlyList<SampleFiles> Samples(DataSplit split) => _splits[split];
}
