using StreamMtl.Pipeline.Inference;
using StreamMtl.Pipeline.Model;
using StreamMtl.Pipeline.Runners;

namespace StreamMtl.Pipeline.Streams;

/// <summary>What the stream pipeline reports per stream; the host exports it (the server: Prometheus, streammtl_* series).</summary>
public interface IStreamMetrics
{
    /// <summary>A stream starts: its series exist from now on (at zero), so dashboards and rate() see it before its first event.</summary>
    void StreamOpened(string stream, TaskSet tasks);

    /// <summary>A stream is gone: its series are removed so ids do not accumulate.</summary>
    void StreamClosed(string stream);

    void StreamCount(int streams);

    void FrameIngested(string stream);

    void FramesDropped(string stream, string reason, long count = 1);

    /// <summary>One frame ran through the model: its FLOPs, tokens, keyframe and the queue and inference times.</summary>
    void FrameProcessed(string stream, FrameAccounting accounting, TimeSpan queue, TimeSpan inference);

    void StageTime(string stream, string stage, TimeSpan elapsed);

    void QueueDepth(string stream, string queue, int depth);

    void EndToEnd(string stream, TimeSpan latency);

    void SourceUp(string stream, bool up);

    void SourceReconnects(string stream, long count);

    void SubscriberCount(string stream, int subscribers);

    void SubscriberEnded(string stream, string reason);

    /// <summary>The stream's compute level now (set when the stream opens and at every change).</summary>
    void ComputeLevel(string stream, ComputeLevel level)
    {
    }

    /// <summary>The overload controller moved the stream to another level.</summary>
    void ComputeLevelChanged(string stream, LevelChange change)
    {
    }

    /// <summary>The stream's compute budget now (set when the stream opens and at every change).</summary>
    void ComputeBudget(string stream, double budget)
    {
    }

    /// <summary>The overload controller moved the stream to another compute budget.</summary>
    void ComputeBudgetChanged(string stream, LevelChange change)
    {
    }
}
