using System.Collections.Concurrent;
using StreamMtl.Pipeline.Inference;
using StreamMtl.Pipeline.Model;
using StreamMtl.Pipeline.Runners;
using StreamMtl.Pipeline.Streams;

namespace StreamMtl.Pipeline.Tests.Streams;

/// <summary>Counts what the pipeline reports, per stream and name, for assertions.</summary>
internal sealed class RecordingStreamMetrics : IStreamMetrics, IInferenceMetrics
{
    private readonly ConcurrentDictionary<string, long> _counts = new();

    public long this[string key] => _counts.GetValueOrDefault(key);

    private void Add(string key, long n = 1) => _counts.AddOrUpdate(key, n, (_, v) => v + n);

    public void StreamOpened(string stream, TaskSet tasks) => Add($"{stream}:opened");
    public void StreamClosed(string stream) => Add($"{stream}:closed");
    public void StreamCount(int streams) => _counts["streams"] = streams;
    public void FrameIngested(string stream) => Add($"{stream}:ingested");
    public void FramesDropped(string stream, string reason, long count = 1) => Add($"{stream}:dropped:{reason}", count);
    public void FrameProcessed(string stream, FrameAccounting accounting, TimeSpan queue, TimeSpan inference) => Add($"{stream}:processed");
    public void StageTime(string stream, string stage, TimeSpan elapsed) => Add($"{stream}:stage:{stage}");
    public void QueueDepth(string stream, string queue, int depth) { }
    public void EndToEnd(string stream, TimeSpan latency) => Add($"{stream}:e2e");
    public void SourceUp(string stream, bool up) => _counts[$"{stream}:up"] = up ? 1 : 0;
    public void SourceReconnects(string stream, long count) => Add($"{stream}:reconnects", count);
    public void SubscriberCount(string stream, int subscribers) => _counts[$"{stream}:subscribers"] = subscribers;
    public void SubscriberEnded(string stream, string reason) => Add($"{stream}:ended:{reason}");
    public void ModelLoaded(LoadedModel model) => Add("model");
    public void BatchRun(int frames) => Add("batched", frames);
}
