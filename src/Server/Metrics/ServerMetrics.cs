using StreamMtl.Pipeline.Inference;
using StreamMtl.Pipeline.Model;
using StreamMtl.Pipeline.Runners;
using StreamMtl.Pipeline.Streams;
using Prometheus;

namespace StreamMtl.Server.Metrics;

/// <summary>
/// The service's Prometheus metrics, on a registry of its own (one per host, so in-process tests do not share series).
/// Labels stay low-cardinality: stream id (bounded by Limits:MaxStreams), task, stage, queue, reason.
/// </summary>
public sealed class ServerMetrics : IInferenceMetrics, IStreamMetrics
{
    private static readonly double[] LatencyBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5];
    private static readonly double[] RatioBuckets = [0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1];

    public static IReadOnlyList<string> DropReasons { get; } =
        ["source_overwritten", "idle", "rate_limit", "inference_busy", "encode_busy", "subscriber_slow", "error"];

    public static IReadOnlyList<string> Stages { get; } = ["preprocess", "queue", "inference", "encode"];

    public ServerMetrics()
    {
        Registry = Prometheus.Metrics.NewCustomRegistry();
        var factory = Prometheus.Metrics.WithCustomRegistry(Registry);
        FramesIngested = factory.CreateCounter("streammtl_frames_ingested_total", "Frames read from sources.", "stream");
        FramesProcessed = factory.CreateCounter("streammtl_frames_processed_total", "Frames run through the model.", "stream");
        FramesDropped = factory.CreateCounter("streammtl_frames_dropped_total", "Frames or results dropped, by reason.", "stream", "reason");
        SourceReconnects = factory.CreateCounter("streammtl_source_reconnects_total", "Source reconnections.", "stream");
        SourceUp = factory.CreateGauge("streammtl_source_up", "1 while the source delivers frames.", "stream");
        StageLatency = factory.CreateHistogram("streammtl_stage_latency_seconds", "Time per pipeline stage.",
            new HistogramConfiguration { LabelNames = ["stream", "stage"], Buckets = LatencyBuckets });
        EndToEndLatency = factory.CreateHistogram("streammtl_end_to_end_latency_seconds", "Capture to encoded result.",
            new HistogramConfiguration { LabelNames = ["stream"], Buckets = LatencyBuckets });
        QueueDepth = factory.CreateGauge("streammtl_queue_depth", "Items waiting in a pipeline queue.", "stream", "queue");
        Subscribers = factory.CreateGauge("streammtl_subscribers", "Active subscribers.", "stream");
        SubscribersDropped = factory.CreateCounter("streammtl_subscribers_dropped_total", "Subscribers ended by the server.", "stream", "reason");
        ResultsSent = factory.CreateCounter("streammtl_results_sent_total", "Results written to subscribers.", "stream");
        ResultBytes = factory.CreateCounter("streammtl_result_bytes_total", "Bytes of results written to subscribers.", "stream");
        FlopsDense = factory.CreateCounter("streammtl_flops_dense_total", "FLOPs a dense pass would have spent.", "stream", "task");
        FlopsExecuted = factory.CreateCounter("streammtl_flops_executed_total", "FLOPs actually executed.", "stream", "task");
        FlopsSavedRatio = factory.CreateHistogram("streammtl_flops_saved_ratio", "Per frame: 1 - executed/dense FLOPs.",
            new HistogramConfiguration { LabelNames = ["stream"], Buckets = RatioBuckets });
        TokensRecomputedRatio = factory.CreateHistogram("streammtl_tokens_recomputed_ratio", "Per frame: recomputed / total tokens over gated layers.",
            new HistogramConfiguration { LabelNames = ["stream"], Buckets = RatioBuckets });
        Keyframes = factory.CreateCounter("streammtl_keyframes_total", "Frames computed in full.", "stream");
        BatchSize = factory.CreateHistogram("streammtl_inference_batch_size", "Frames run per inference wake-up.",
            new HistogramConfiguration { Buckets = [1, 2, 3, 4, 6, 8, 16, 32, 64] });
        Streams = factory.CreateGauge("streammtl_streams", "Registered streams.");
        StreamLevel = factory.CreateGauge("streammtl_compute_level",
            "The stream's compute level: 0 full, 1 reduced (sub-tasks every 2nd frame), 2 minimal (every 8th), 3 lean (every task, a 4x threshold, refresh over 2K), 4 coarse (minimal and lean).", "stream");
        StreamLevelChanges = factory.CreateCounter("streammtl_compute_level_changes_total",
            "Overload controller level changes, by direction (down: less compute).", "stream", "direction");
        StreamBudget = factory.CreateGauge("streammtl_compute_budget",
            "The stream's compute budget: the fraction of the dense FLOPs its model's policy may run per frame (1: every block).", "stream");
        StreamBudgetChanges = factory.CreateCounter("streammtl_compute_budget_changes_total",
            "Overload controller compute-budget changes, by direction (down: less compute).", "stream", "direction");
        UnitsSkipped = factory.CreateCounter("streammtl_units_skipped_total", "Blocks (policy units) skipped under a compute budget.", "stream");
        ClusterNodes = factory.CreateGauge("streammtl_cluster_nodes", "Active nodes of the cluster in this node's membership view (cluster mode; 0 on a single node).");
        ClusterNodeStreams = factory.CreateGauge("streammtl_cluster_node_streams", "Streams this node runs, labelled with the node's name (cluster mode).", "node");
        StreamMoves = factory.CreateCounter("streammtl_stream_moves_total",
            "Streams placed by the cluster registry while it ran on this node, by reason: added, placement, failover, handover, restart.", "reason");
        ModelInfo = factory.CreateGauge("streammtl_model_info", "The loaded model (value 1).", "version", "base_task", "tasks", "split_layer", "input_size", "precision");
        ModelLoadSeconds = factory.CreateGauge("streammtl_model_load_seconds", "Time taken to load the model.");
    }

    public CollectorRegistry Registry { get; }
    public Counter FramesIngested { get; }
    public Counter FramesProcessed { get; }
    public Counter FramesDropped { get; }
    public Counter SourceReconnects { get; }
    public Gauge SourceUp { get; }
    public Histogram StageLatency { get; }
    public Histogram EndToEndLatency { get; }
    public Gauge QueueDepth { get; }
    public Gauge Subscribers { get; }
    public Counter SubscribersDropped { get; }
    public Counter ResultsSent { get; }
    public Counter ResultBytes { get; }
    public Counter FlopsDense { get; }
    public Counter FlopsExecuted { get; }
    public Histogram FlopsSavedRatio { get; }
    public Histogram TokensRecomputedRatio { get; }
    public Counter Keyframes { get; }
    public Histogram BatchSize { get; }
    public Gauge Streams { get; }
    public Gauge StreamLevel { get; }
    public Counter StreamLevelChanges { get; }
    public Gauge StreamBudget { get; }
    public Counter StreamBudgetChanges { get; }
    public Counter UnitsSkipped { get; }

    public Gauge ClusterNodes { get; }

    public Gauge ClusterNodeStreams { get; }

    public Counter StreamMoves { get; }
    public Gauge ModelInfo { get; }
    public Gauge ModelLoadSeconds { get; }

    public void ModelLoaded(LoadedModel model)
    {
        ModelLoadSeconds.Set(model.LoadTime.TotalSeconds);
        ModelInfo.WithLabels(model.Version, model.Config.BaseTask.Name(), string.Join(",", model.Config.AllTasks.Select(t => t.Name())),
            model.Config.SplitLayer.ToString(System.Globalization.CultureInfo.InvariantCulture), $"{model.InputWidth}x{model.InputHeight}",
            model.Precision).Set(1);
    }

    public void BatchRun(int frames) => BatchSize.Observe(frames);

    /// <summary>Publishes a stream's series at zero, so dashboards show it (and rate() works) before the first event.</summary>
    public void StreamOpened(string stream, TaskSet tasks)
    {
        FramesIngested.WithLabels(stream);
        FramesProcessed.WithLabels(stream);
        SourceReconnects.WithLabels(stream);
        Keyframes.WithLabels(stream);
        ResultsSent.WithLabels(stream);
        Subscribers.WithLabels(stream).Set(0);
        StreamLevelChanges.WithLabels(stream, "down");
        StreamLevelChanges.WithLabels(stream, "up");
        StreamBudgetChanges.WithLabels(stream, "down");
        StreamBudgetChanges.WithLabels(stream, "up");
        UnitsSkipped.WithLabels(stream);
        foreach (var reason in DropReasons)
        {
            FramesDropped.WithLabels(stream, reason);
        }
        foreach (var task in tasks.Tasks().Select(t => t.Name()))
        {
            FlopsDense.WithLabels(stream, task);
            FlopsExecuted.WithLabels(stream, task);
        }
    }

    /// <summary>Removes a stream's series when it is removed, so ids do not accumulate.</summary>
    public void StreamClosed(string stream)
    {
        foreach (var collector in new Collector[] { FramesIngested, FramesProcessed, FramesDropped, SourceReconnects, SourceUp, StageLatency,
            EndToEndLatency, QueueDepth, Subscribers, SubscribersDropped, ResultsSent, ResultBytes, FlopsDense, FlopsExecuted,
            FlopsSavedRatio, TokensRecomputedRatio, Keyframes, StreamLevel, StreamLevelChanges, StreamBudget, StreamBudgetChanges, UnitsSkipped })
        {
            RemoveStream(collector, stream);
        }
    }

    public void StreamCount(int streams) => Streams.Set(streams);

    public void FrameIngested(string stream) => FramesIngested.WithLabels(stream).Inc();

    void IStreamMetrics.FramesDropped(string stream, string reason, long count) => FramesDropped.WithLabels(stream, reason).Inc(count);

    public void FrameProcessed(string stream, FrameAccounting accounting, TimeSpan queue, TimeSpan inference)
    {
        FramesProcessed.WithLabels(stream).Inc();
        foreach (var (task, dense) in accounting.DenseFlops)
        {
            FlopsDense.WithLabels(stream, task.Name()).Inc(dense);
            FlopsExecuted.WithLabels(stream, task.Name()).Inc(accounting.ExecutedFlops.GetValueOrDefault(task));
        }
        FlopsSavedRatio.WithLabels(stream).Observe(accounting.SavedRatio);
        TokensRecomputedRatio.WithLabels(stream).Observe(accounting.RecomputedRatio);
        if (accounting.Keyframe)
        {
            Keyframes.WithLabels(stream).Inc();
        }
        if (accounting.SkippedUnits.Count > 0)
        {
            UnitsSkipped.WithLabels(stream).Inc(accounting.SkippedUnits.Count);
        }
        StageLatency.WithLabels(stream, "queue").Observe(queue.TotalSeconds);
        StageLatency.WithLabels(stream, "inference").Observe(inference.TotalSeconds);
    }

    public void StageTime(string stream, string stage, TimeSpan elapsed) => StageLatency.WithLabels(stream, stage).Observe(elapsed.TotalSeconds);

    void IStreamMetrics.QueueDepth(string stream, string queue, int depth) => QueueDepth.WithLabels(stream, queue).Set(depth);

    public void EndToEnd(string stream, TimeSpan latency) => EndToEndLatency.WithLabels(stream).Observe(latency.TotalSeconds);

    void IStreamMetrics.SourceUp(string stream, bool up) => SourceUp.WithLabels(stream).Set(up ? 1 : 0);

    void IStreamMetrics.SourceReconnects(string stream, long count) => SourceReconnects.WithLabels(stream).Inc(count);

    public void SubscriberCount(string stream, int subscribers) => Subscribers.WithLabels(stream).Set(subscribers);

    public void SubscriberEnded(string stream, string reason) => SubscribersDropped.WithLabels(stream, reason).Inc();

    void IStreamMetrics.ComputeLevel(string stream, ComputeLevel level) => StreamLevel.WithLabels(stream).Set((int)level);

    void IStreamMetrics.ComputeLevelChanged(string stream, LevelChange change) => StreamLevelChanges.WithLabels(stream, change.Direction).Inc();

    void IStreamMetrics.ComputeBudget(string stream, double budget) => StreamBudget.WithLabels(stream).Set(budget);

    void IStreamMetrics.ComputeBudgetChanged(string stream, LevelChange change) => StreamBudgetChanges.WithLabels(stream, change.Direction).Inc();

    private static void RemoveStream(Collector collector, string stream)
    {
        switch (collector)
        {
            case Counter c:
                foreach (var labels in c.GetAllLabelValues().Where(l => l.Length > 0 && l[0] == stream).ToList()) c.RemoveLabelled(labels);
                break;
            case Gauge g:
                foreach (var labels in g.GetAllLabelValues().Where(l => l.Length > 0 && l[0] == stream).ToList()) g.RemoveLabelled(labels);
                break;
            case Histogram h:
                foreach (var labels in h.GetAllLabelValues().Where(l => l.Length > 0 && l[0] == stream).ToList()) h.RemoveLabelled(labels);
                break;
        }
    }
}
