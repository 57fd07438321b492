namespace StreamMtl.Pipeline.Model;

/// <summary>The dense prediction tasks; segmentation is the base task, the others are sub-tasks.</summary>
public enum VisionTask
{
    Segmentation = 0,
    Depth = 1,
    Normals = 2,
}

/// <summary>A set of tasks as flags, for "only compute what somebody asked for".</summary>
[Flags]
public enum TaskSet
{
    None = 0,
    Segmentation = 1,
    Depth = 2,
    Normals = 4,
    All = Segmentation | Depth | Normals,
}

/// <summary>Helpers for naming and combining tasks.</summary>
public static class VisionTasks
{
    public static IReadOnlyList<VisionTask> All { get; } = [VisionTask.Segmentation, VisionTask.Depth, VisionTask.Normals];

    public static IReadOnlyList<VisionTask> SubTasks { get; } = [VisionTask.Depth, VisionTask.Normals];

    public static TaskSet ToSet(this VisionTask task) => (TaskSet)(1 << (int)task);

    public static bool Contains(this TaskSet set, VisionTask task) => (set & task.ToSet()) != 0;

    public static IEnumerable<VisionTask> Tasks(this TaskSet set) => All.Where(t => set.Contains(t));

    /// <summary>The set's task names, comma-separated ("none" when empty), for messages.</summary>
    public static string Describe(this TaskSet set) => set == TaskSet.None ? "none" : string.Join(", ", set.Tasks().Select(t => t.Name()));

    /// <summary>Lower-case name used in tensor names, metrics labels, CLI and API.</summary>
    public static string Name(this VisionTask task) => task switch
    {
        VisionTask.Segmentation => "segmentation",
        VisionTask.Depth => "depth",
        VisionTask.Normals => "normals",
        _ => throw new ArgumentOutOfRangeException(nameof(task)),
    };

    public static bool TryParse(string name, out VisionTask task)
    {
        foreach (var candidate in All)
        {
            if (string.Equals(candidate.Name(), name, StringComparison.OrdinalIgnoreCase)
                || (candidate == VisionTask.Segmentation && string.Equals(name, "seg", StringComparison.OrdinalIgnoreCase)))
            {
                task = candidate;
                return true;
            }
        }
        task = default;
        return false;
    }

    /// <summary>Output channels of the task's head per pixel.</summary>
    public static int Channels(this VisionTask task, int classes) => task switch
    {
        VisionTask.Segmentation => classes,
        VisionTask.Depth => 1,
        VisionTask.Normals => 3,
        _ => throw new ArgumentOutOfRangeException(nameof(task)),
    };
}
