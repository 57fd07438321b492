namespace StreamMtl.Pipeline.Inference;

/// <summary>Queues, batching and timeouts of the frame pipeline.</summary>
public sealed record PipelineOptions
{
    /// <summary>
    /// Inference worker threads sharing the model; each runs one lane at a time with cores / workers libtorch threads
    /// (unless Model:Threads says otherwise). 0 = automatic: <see cref="AutoWorkers"/>.
    /// </summary>
    public int InferenceWorkers { get; init; }

    /// <summary>
    /// Nice value (0..19) that the threads decoding, rendering and encoding around inference give themselves (ffmpeg
    /// decoder children inherit it), so that under contention the inference workers, left at the process's priority, get
    /// the cores first. 0 (the default) leaves them equal. Below capacity 10 smooths inference latency (3 vtest streams on
    /// 2 cores: worst inference p99/p50 1.72 and 1.68 against 4.29 and 2.11); past capacity it starves decoding and
    /// encoding instead, so frames are dropped after inference ran and capture-to-receipt p99 rose from ~250 to ~800 ms at
    /// 5 streams (docs/service.md, "Capacity").
    /// </summary>
    public int HelperNice { get; init; }

    /// <summary>Frames of different streams run back to back by a worker per wake-up.</summary>
    public int BatchSize { get; init; } = 4;

    /// <summary>
    /// Run the queued frames of several streams with temporal reuse as one batch (<see cref="Reuse.ReuseStreamRunner.RunBatch"/>)
    /// instead of one per wake-up, always. Off (the default): only frames of adaptive streams that the overload controller
    /// has stepped down are batched. Always batching gained little at 8 vtest streams on 2 cores and roughly doubled each
    /// frame's capture-to-result latency, since a frame waits for the whole batch; past capacity the queues are full and
    /// batches raised the total by 15-30 % (docs/service.md). On for throughput where latency does not matter.
    /// </summary>
    public bool BatchReuse { get; init; }

    /// <summary>
    /// A reuse frame that has waited this long in its queue joins a batch whatever <see cref="BatchReuse"/> says (the box is
    /// behind). Zero, the default: never by waiting. Measured with 50 ms (docs/service.md): 12 fixed-level vtest streams
    /// processed 84.7 against 75.6 fps, but the worst stream gained little (63.7 against 62.9 %) and capture-to-result
    /// p50 rose from ~95 to ~150 ms; at 8 streams the total did not change and the p99 rose.
    /// </summary>
    public TimeSpan ReuseBatchAfter { get; init; }

    /// <summary>How long the inference thread waits for more streams' frames once it has one.</summary>
    public TimeSpan BatchTimeout { get; init; } = TimeSpan.FromMilliseconds(2);

    /// <summary>Results kept per subscriber before the oldest is dropped.</summary>
    public int SubscriberQueue { get; init; } = 4;

    /// <summary>A subscriber whose write does not complete within this is dropped.</summary>
    public TimeSpan WriteTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>No source frame for this long means stalled (source torn down and reconnected).</summary>
    public TimeSpan StallTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>A stream that is not always-on stops reading its source this long after its last subscriber left.</summary>
    public TimeSpan IdleGrace { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Results a Process call may have in flight (frames sent but results not yet written).</summary>
    public int ProcessInFlight { get; init; } = 2;

    /// <summary>How the overload controller of adaptive streams (Reuse:Adaptive) judges them.</summary>
    public ComputeControllerOptions Controller { get; init; } = new();

    /// <summary>The automatic worker count on <paramref name="cores"/> cores.</summary>
    public static int AutoWorkers(int cores) => Math.Max(1, cores);

    /// <summary>Workers to start on <paramref name="cores"/> cores.</summary>
    public int Workers(int cores) => InferenceWorkers > 0 ? InferenceWorkers : AutoWorkers(cores);

    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (InferenceWorkers is < 0 or > 64) errors.Add($"InferenceWorkers must be in 0..64, got {InferenceWorkers}");
        if (HelperNice is < 0 or > 19) errors.Add($"HelperNice must be in 0..19, got {HelperNice}");
        if (BatchSize is < 1 or > 64) errors.Add($"BatchSize must be in 1..64, got {BatchSize}");
        if (BatchTimeout < TimeSpan.Zero || BatchTimeout > TimeSpan.FromSeconds(1)) errors.Add($"BatchTimeout must be in 0..1 s, got {BatchTimeout}");
        if (ReuseBatchAfter < TimeSpan.Zero || ReuseBatchAfter > TimeSpan.FromSeconds(10)) errors.Add($"ReuseBatchAfter must be in 0..10 s, got {ReuseBatchAfter}");
        if (SubscriberQueue is < 1 or > 1024) errors.Add($"SubscriberQueue must be in 1..1024, got {SubscriberQueue}");
        if (WriteTimeout <= TimeSpan.Zero) errors.Add("WriteTimeout must be positive");
        if (StallTimeout <= TimeSpan.Zero) errors.Add("StallTimeout must be positive");
        if (IdleGrace < TimeSpan.Zero || IdleGrace > TimeSpan.FromHours(1)) errors.Add($"IdleGrace must be in 0..1 h, got {IdleGrace}");
        if (ProcessInFlight is < 1 or > 64) errors.Add($"ProcessInFlight must be in 1..64, got {ProcessInFlight}");
        errors.AddRange(Controller.Validate().Select(e => "Controller: " + e));
        return errors;
    }
}
