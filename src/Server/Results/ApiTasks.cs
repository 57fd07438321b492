using StreamMtl.Pipeline.Model;
using ApiTask = StreamMtl.Api.V1.Task;

namespace StreamMtl.Server.Results;

/// <summary>Maps API task enums to the pipeline's tasks.</summary>
public static class ApiTasks
{
    public static TaskSet ToSet(IEnumerable<ApiTask> tasks, out string? error)
    {
        error = null;
        var set = TaskSet.None;
        foreach (var task in tasks)
        {
            if (!TryMap(task, out var vision))
            {
                error = $"unknown task {task} ({(int)task})";
                return TaskSet.None;
            }
            set |= vision.ToSet();
        }
        return set;
    }

    public static bool TryMap(ApiTask task, out VisionTask vision)
    {
        switch (task)
        {
            case ApiTask.Segmentation: vision = VisionTask.Segmentation; return true;
            case ApiTask.Depth: vision = VisionTask.Depth; return true;
            case ApiTask.Normals: vision = VisionTask.Normals; return true;
            default: vision = default; return false;
        }
    }

    public static ApiTask ToApi(VisionTask task) => task switch
    {
        VisionTask.Segmentation => ApiTask.Segmentation,
        VisionTask.Depth => ApiTask.Depth,
        VisionTask.Normals => ApiTask.Normals,
        _ => ApiTask.Unspecified,
    };

    public static IEnumerable<ApiTask> ToApi(TaskSet set) => set.Tasks().Select(ToApi);

    public static string Describe(TaskSet set) => set == TaskSet.None ? "none" : string.Join(", ", set.Tasks().Select(t => t.Name()));
}
