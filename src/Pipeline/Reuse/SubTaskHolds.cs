using StreamMtl.Pipeline.Model;

namespace StreamMtl.Pipeline.Reuse;

/// <summary>
/// Which sub-tasks a frame computes at a reduced <see cref="ComputeLevel"/> and which repeat their last output: each
/// sub-task runs on every n-th frame (sub-tasks staggered, so no frame computes them all), on keyframes, and whenever its
/// last output is older than n frames or predates the last keyframe. A held branch keeps its references, so when it runs
/// again it is gated against them (as after dropped frames) instead of being recomputed in full.
/// </summary>
internal sealed class SubTaskHolds(ModelConfig config)
{
    private readonly Dictionary<VisionTask, long> _lastRun = [];
    private readonly Dictionary<VisionTask, long> _lastFrame = [];
    private long _runs;
    private long _lastKeyframe = -1;
    private TaskSet _held;

    /// <summary>The frame's plan for <paramref name="tasks"/>: computed, held (repeated) and resumable (computed, gated
    /// although held on the previous frame).</summary>
    public (TaskSet Computed, TaskSet Held, TaskSet Resumable) Plan(TaskSet tasks, ComputeLevel level, bool keyframe)
    {
        int stride = ComputeLevels.SubTaskStride(level);
        var computed = tasks;
        var held = TaskSet.None;
        if (stride > 1 && !keyframe && tasks.Contains(config.BaseTask))
        {
            int i = 0;
            foreach (var task in config.SubTasks.Where(t => tasks.Contains(t)))
            {
                i++;
                bool due = (_runs + i) % stride == 0;
                if (!due && Fresh(task, stride))
                {
                    computed &= ~task.ToSet();
                    held |= task.ToSet();
                }
            }
        }
        var resumable = TaskSet.None;
        foreach (var task in computed.Tasks().Where(t => _held.Contains(t) && _lastRun.TryGetValue(t, out long last) && last >= _lastKeyframe))
        {
            resumable |= task.ToSet();
        }
        return (computed, held, resumable);
    }

    /// <summary>Records a frame run with <paramref name="computed"/> and <paramref name="held"/> (after the pass: a scene cut
    /// makes it a keyframe). A task neither computed nor held (nobody asked for it) is cold when it comes back, as before.</summary>
    public void Ran(TaskSet computed, TaskSet held, bool keyframe, long frameIndex)
    {
        foreach (var task in VisionTasks.All.Where(t => computed.Contains(t)))
        {
            _lastRun[task] = _runs;
            _lastFrame[task] = frameIndex;
        }
        _held = held;
        if (keyframe)
        {
            _lastKeyframe = _runs;
        }
        _runs++;
    }

    /// <summary>The frame index each of <paramref name="held"/> was last computed on (what its repeated output shows).</summary>
    public IReadOnlyDictionary<VisionTask, long> ComputedOn(TaskSet held) =>
        held.Tasks().Where(_lastFrame.ContainsKey).ToDictionary(t => t, t => _lastFrame[t]);

    public void Reset()
    {
        _lastRun.Clear();
        _lastFrame.Clear();
        _runs = 0;
        _lastKeyframe = -1;
        _held = TaskSet.None;
    }

    /// <summary>The task's output is from a frame run since the last keyframe and fewer than <paramref name="stride"/> frames ago.</summary>
    private bool Fresh(VisionTask task, int stride) =>
        _lastRun.TryGetValue(task, out long last) && last >= _lastKeyframe && _runs - last < stride;
}
