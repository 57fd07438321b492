using StreamMtl.Pipeline.Runners;
using StreamMtl.Ingest.Frames;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using StreamMtl.Pipeline.Model;
using StreamMtl.Pipeline.Reuse;
using StreamMtl.Pipeline.Weights;
using static TorchSharp.torch;

namespace StreamMtl.Pipeline.Inference;

/// <summary>
/// Owns one model instance and the worker threads that run it (TorchSharp dispose scopes and no_grad are thread-local; the
/// model's weights are only read, so workers share them). Streams attach lanes; each wake-up of a worker takes up to
/// BatchSize frames from different lanes no other worker holds (waiting at most BatchTimeout for more), round-robin so no
/// stream starves, and runs each with its stream's runner (its own reuse state). A lane is held by one worker at a time,
/// so a stream's frames run in order. Several workers with fewer intra-op threads each keep both cores busy on the small,
/// overhead-bound operations of temporal reuse, which one thread dispatching to two cores cannot.
/// </summary>
public sealed partial class InferenceEngine : IDisposable
{
    private readonly PipelineOptions _options;
    private readonly IInferenceMetrics _metrics;
    private readonly ILogger<InferenceEngine> _logger;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _signal = new(0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _gate = new();
    private readonly List<InferenceLane> _lanes = [];
    private readonly ConcurrentQueue<IStreamRunner> _retired = new();
    private readonly Thread[] _threads;
    private int _running;
    private int _opened;
    private readonly MultiTaskVit _model;
    private readonly bool _bfloat16;
    private int _next;

    /// <summary>
    /// Loads the model on the calling thread (a startup cost, reported through <paramref name="metrics"/>) and starts the
    /// inference thread. Throws what <see cref="ModelFile.Load(string, int?)"/> throws for a missing or malformed file.
    /// </summary>
    public InferenceEngine(string modelPath, ModelOptions model, PipelineOptions options, IInferenceMetrics metrics, ILogger<InferenceEngine> logger,
        TimeProvider time)
    {
        _options = options;
        _metrics = metrics;
        _logger = logger;
        _time = time;
        _bfloat16 = model.BFloat16;
        var clock = Stopwatch.StartNew();
        Workers = options.Workers(Environment.ProcessorCount);
        int intraOp = model.Threads > 0 ? model.Threads : Math.Max(1, Environment.ProcessorCount / Workers);
        // libtorch keeps the count process-wide and applies it to each thread on that thread's first operation: setting it
        // here, before any worker starts, holds for every worker.
        set_num_threads(intraOp);
        HelperPriority.Nice = options.HelperNice;
        int workerNice = HelperPriority.Current();
        PackedLinear.Enabled = model.PackedProducts;
        string? adapter = string.IsNullOrEmpty(model.Adapter) ? null : model.Adapter;
        var (loaded, metadata) = adapter != null ? AdapterFile.LoadFolded(modelPath, adapter) : ModelFile.Load(modelPath);
        loaded.eval();
        _model = loaded;
        Model = new LoadedModel(modelPath, metadata, model.InputWidth, model.InputHeight,
            ModelVersion.Of(modelPath, metadata) + (adapter != null ? AdapterFile.VersionSuffix(adapter) : ""), clock.Elapsed, model.PrecisionName);
        metrics.ModelLoaded(Model);
        Log.ModelLoaded(logger, modelPath, Model.Version, Model.Precision, Model.LoadTime.TotalSeconds);
        Log.Threads(logger, Workers, intraOp, OpenMpPolicy.Native() is { Length: > 0 } policy ? policy : "unset (spinning)",
            NativeHeapPolicy.Described, PackedLinear.Described(intraOp));
        if (options.HelperNice > 0 && workerNice >= options.HelperNice)
        {
            // Threads start at their creator's nice value and cannot lower it: the workers would get no more CPU than helpers.
            Log.WorkersNotAboveHelpers(logger, workerNice, options.HelperNice);
        }
        if (model.BFloat16 && Autocast.CpuHasBFloat16() == false)
        {
            Log.BFloat16Emulated(logger);
        }
        _running = Workers;
        _threads = [.. Enumerable.Range(0, Workers).Select(i => new Thread(Run) { Name = $"streammtl-inference-{i}", IsBackground = true })];
        foreach (var thread in _threads)
        {
            thread.Start();
        }
    }

    public LoadedModel Model { get; }

    /// <summary>Inference worker threads (Pipeline:InferenceWorkers, resolved).</summary>
    public int Workers { get; }

    /// <summary>Attaches a stream; dropped jobs are disposed then passed to <paramref name="dropped"/>; results go to <paramref name="deliver"/> (on the inference thread: keep it short and non-blocking).</summary>
    public InferenceLane OpenLane(string streamId, ReuseSettings reuse, int capacity, BoundedChannelFullMode mode,
        Action<InferenceJob> dropped, Action<InferenceOutput> deliver)
    {
        var errors = reuse.Validate(Model.Config);
        if (errors.Count > 0)
        {
            throw new ArgumentException("invalid reuse settings: " + string.Join("; ", errors), nameof(reuse));
        }
        ObjectDisposedException.ThrowIf(_stop.IsCancellationRequested, this);
        var lane = new InferenceLane(this, streamId, reuse, capacity, mode, dropped, deliver, Interlocked.Increment(ref _opened) - 1);
        lock (_gate)
        {
            _lanes.Add(lane);
        }
        return lane;
    }

    internal void Signal()
    {
        try
        {
            _signal.Release();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    internal void Close(InferenceLane lane)
    {
        lock (_gate)
        {
            _lanes.Remove(lane);
            if (lane.Held)
            {
                // A worker is running this lane's frame: it retires the runner when it lets go (Release).
                return;
            }
            Retire(lane);
        }
    }

    /// <summary>Hands a closed lane's runner to the workers for disposal (runners hold tensors; under <see cref="_gate"/>).</summary>
    private void Retire(InferenceLane lane)
    {
        if (lane.Runner is { } runner)
        {
            _retired.Enqueue(runner);
            lane.Runner = null;
            Signal();
        }
    }

    /// <summary>A worker is done with the lanes of its batch: other workers may take them, closed ones are retired.</summary>
    private void Release(List<(InferenceLane Lane, InferenceJob Job)> batch)
    {
        lock (_gate)
        {
            foreach (var (lane, _) in batch)
            {
                lane.Held = false;
                if (lane.IsClosed)
                {
                    Retire(lane);
                }
            }
        }
    }

    private void Run()
    {
        var batch = new List<(InferenceLane Lane, InferenceJob Job)>(_options.BatchSize);
        // Per thread, like no_grad: every forward pass of this engine runs on this thread.
        using var precision = Autocast.BFloat16(_bfloat16);
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                _signal.Wait(_stop.Token);
                DisposeRetired();
                var key = Collect(batch, null);
                if (Batchable(batch, key) && _options.BatchTimeout > TimeSpan.Zero)
                {
                    var deadline = _time.GetTimestamp() + (long)(_options.BatchTimeout.TotalSeconds * _time.TimestampFrequency);
                    while (Batchable(batch, key) && _time.GetTimestamp() < deadline)
                    {
                        var left = TimeSpan.FromSeconds((deadline - _time.GetTimestamp()) / (double)_time.TimestampFrequency);
                        if (left <= TimeSpan.Zero || !_signal.Wait(left, _stop.Token))
                        {
                            break;
                        }
                        key = Collect(batch, key);
                    }
                }
                if (batch.Count > 0)
                {
                    _metrics.BatchRun(batch.Count);
                    if (batch.Count > 1 && key is ValueTuple<TaskSet, float> dense)
                    {
                        ExecuteTogether(batch, live => DenseBatch.Run(_model, Model, [.. live.Select(g => g.Job)], dense.Item1, dense.Item2));
                    }
                    else if (batch.Count > 1 && ReferenceEquals(key, ReuseBatch.Key))
                    {
                        ExecuteTogether(batch, RunReuseBatch);
                    }
                    else
                    {
                        foreach (var (lane, job) in batch)
                        {
                            Execute(lane, job);
                        }
                    }
                    Release(batch);
                    batch.Clear();
                    // More may be queued than signals left (a lane holds several): look again without waiting.
                    Signal();
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            foreach (var (_, job) in batch)
            {
                job.Dispose();
            }
            Release(batch);
            // The last worker out disposes what is left: no other worker can be running a runner or the model now.
            if (Interlocked.Decrement(ref _running) == 0)
            {
                DisposeRetired();
                List<InferenceLane> lanes;
                lock (_gate)
                {
                    lanes = [.. _lanes];
                }
                foreach (var lane in lanes)
                {
                    lane.Runner?.Dispose();
                    lane.Runner = null;
                }
                _model.Dispose();
            }
        }
    }

    /// <summary>
    /// Takes frames for one run, round-robin over the lanes no worker holds, up to BatchSize: a dense frame is joined by
    /// other dense frames of the same tasks and sharing, which then run as one forward pass; a reuse frame that takes the
    /// propagated pass, with BatchReuse or when the box is behind (it waited ReuseBatchAfter, or its stream's controller
    /// stepped it down), by other such frames (whatever their tasks), whose rows then share each block's products; other
    /// reuse frames run alone. Every frame of a batch has the batch's key (<paramref name="batchKey"/>, what an earlier call
    /// returned for this batch), which this returns.
    /// </summary>
    private object? Collect(List<(InferenceLane Lane, InferenceJob Job)> batch, object? batchKey)
    {
        lock (_gate)
        {
            int count = _lanes.Count;
            if (batch.Count > 0 && batchKey == null)
            {
                return null;
            }
            for (int i = 0; i < count && batch.Count < _options.BatchSize; i++)
            {
                var lane = _lanes[(_next + i) % count];
                if (lane.Held || !lane.TryPeek(out var next))
                {
                    continue; // in this batch already, another worker's, or empty
                }
                var key = Key(lane, next);
                if (batch.Count > 0 && (key == null || !key.Equals(batchKey)))
                {
                    continue;
                }
                if (!lane.TryTake(out var job))
                {
                    continue;
                }
                lane.Held = true;
                batch.Add((lane, job));
                if (key == null)
                {
                    break;
                }
                batchKey = key;
            }
            _next = count == 0 ? 0 : (_next + 1) % count;
            return batchKey;
        }
    }

    /// <summary>What frames a frame may share a run with (<see cref="DenseBatch.Key"/>, <see cref="ReuseBatch.Key"/>); null: it runs alone.</summary>
    private object? Key(InferenceLane lane, InferenceJob job) =>
        DenseBatch.Key(lane, job) is { } dense ? dense : ReuseBatch.Joins(lane, job, _options.BatchReuse, Behind(job)) ? ReuseBatch.Key : null;

    /// <summary>The job has waited <see cref="PipelineOptions.ReuseBatchAfter"/> or longer in its queue.</summary>
    private bool Behind(InferenceJob job) =>
        _options.ReuseBatchAfter > TimeSpan.Zero && _time.GetElapsedTime(job.EnqueuedAt) >= _options.ReuseBatchAfter;

    /// <summary>True when the batch may take more frames after waiting: dense frames that could share a forward pass (reuse
    /// frames take what is queued: a stream's gated frame is short, and waiting would only add latency).</summary>
    private bool Batchable(List<(InferenceLane Lane, InferenceJob Job)> batch, object? key) =>
        batch.Count > 0 && batch.Count < _options.BatchSize && key is ValueTuple<TaskSet, float>;

    private void Execute(InferenceLane lane, InferenceJob job)
    {
        var queueTime = _time.GetElapsedTime(job.EnqueuedAt);
        if (lane.IsClosed)
        {
            job.Dispose();
            return;
        }
        try
        {
            lane.Runner ??= StreamRunners.Create(_model, lane.Reuse, lane.Ordinal);
            if (lane.TakeReset())
            {
                lane.Runner.Reset();
            }
            FrameAnalysis analysis;
            using (var scope = NewDisposeScope())
            {
                var input = FrameInput.ToTensor(job.Input, Model.InputWidth, Model.InputHeight, Model.Config);
                analysis = lane.Runner.Run(input, job.Input.Index, job.Tasks, job.Level, job.ComputeBudget ?? lane.Reuse.ComputeBudget);
            }
            lane.Deliver(new InferenceOutput(job, analysis, null, queueTime, _time.GetTimestamp()));
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Log.InferenceFailed(_logger, lane.StreamId, e);
            lane.Runner?.Reset();
            lane.Deliver(new InferenceOutput(job, null, e.Message, queueTime, _time.GetTimestamp()));
        }
    }

    /// <summary>Runs a reuse batch (<see cref="ReuseStreamRunner.RunBatch"/>): each lane's runner (made on first use), its
    /// frame as a tensor, at the job's level and compute budget.</summary>
    private IReadOnlyList<FrameAnalysis> RunReuseBatch(List<(InferenceLane Lane, InferenceJob Job)> live)
    {
        using var scope = NewDisposeScope();
        var frames = new List<ReuseFrame>(live.Count);
        foreach (var (lane, job) in live)
        {
            lane.Runner ??= StreamRunners.Create(_model, lane.Reuse, lane.Ordinal);
            if (lane.TakeReset())
            {
                lane.Runner.Reset();
            }
            var runner = lane.Runner as ReuseStreamRunner
                ?? throw new InvalidOperationException($"stream {lane.StreamId} joined a reuse batch without a reuse runner");
            var input = FrameInput.ToTensor(job.Input, Model.InputWidth, Model.InputHeight, Model.Config);
            frames.Add(new ReuseFrame(runner, input, job.Input.Index, job.Tasks, job.Level, job.ComputeBudget ?? lane.Reuse.ComputeBudget));
        }
        return ReuseStreamRunner.RunBatch(frames);
    }

    /// <summary>Runs the frames of a batch with <paramref name="run"/> and delivers each lane its result. When it fails, every
    /// stream of the batch starts over (a batch that failed part-way may have moved some states on) and its frame runs alone,
    /// so one bad frame fails only its own stream.</summary>
    private void ExecuteTogether(List<(InferenceLane Lane, InferenceJob Job)> group,
        Func<List<(InferenceLane Lane, InferenceJob Job)>, IReadOnlyList<FrameAnalysis>> run)
    {
        var live = group.Where(g => !g.Lane.IsClosed).ToList();
        foreach (var (_, job) in group.Where(g => g.Lane.IsClosed))
        {
            job.Dispose();
        }
        if (live.Count == 0)
        {
            return;
        }
        var queued = live.Select(g => _time.GetElapsedTime(g.Job.EnqueuedAt)).ToArray();
        IReadOnlyList<FrameAnalysis> analyses;
        try
        {
            analyses = run(live);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Log.InferenceFailed(_logger, "batch", e);
            foreach (var (lane, _) in live)
            {
                lane.Runner?.Reset();
            }
            foreach (var (lane, job) in live)
            {
                Execute(lane, job);
            }
            return;
        }
        for (int i = 0; i < live.Count; i++)
        {
            var (lane, job) = live[i];
            lane.Deliver(new InferenceOutput(job, analyses[i], null, queued[i], _time.GetTimestamp()));
        }
    }

    private void DisposeRetired()
    {
        while (_retired.TryDequeue(out var runner))
        {
            runner.Dispose();
        }
    }

    public void Dispose()
    {
        if (_stop.IsCancellationRequested)
        {
            return;
        }
        _stop.Cancel();
        foreach (var thread in _threads.Where(t => t.IsAlive))
        {
            thread.Join(TimeSpan.FromSeconds(10));
        }
    }

    private static partial class Log
    {
        [LoggerMessage(101, LogLevel.Information, "Model {Path} loaded: {Version}, {Precision} matrix products, in {Seconds:F2} s")]
        public static partial void ModelLoaded(ILogger logger, string path, string version, string precision, double seconds);

        [LoggerMessage(103, LogLevel.Warning, "Model:Precision is bfloat16 but this CPU has no native bfloat16 (no avx512_bf16, amx_bf16 or bf16 flag in /proc/cpuinfo): libtorch emulates it, slower than float32")]
        public static partial void BFloat16Emulated(ILogger logger);

        [LoggerMessage(104, LogLevel.Information, "Inference: {Workers} worker thread(s), {Threads} libtorch intra-op thread(s) each, OpenMP wait policy {Policy}, native heap: {Heap}, row products: {Products}")]
        public static partial void Threads(ILogger logger, int workers, int threads, string policy, string heap, string products);

        [LoggerMessage(105, LogLevel.Warning, "Inference workers start at nice {Nice}, not above the helper threads' Pipeline:HelperNice {HelperNice}: under contention decoding and encoding compete with inference as equals")]
        public static partial void WorkersNotAboveHelpers(ILogger logger, int nice, int helperNice);

        [LoggerMessage(102, LogLevel.Error, "Inference failed on stream {Stream}")]
        public static partial void InferenceFailed(ILogger logger, string stream, Exception error);
    }
}
