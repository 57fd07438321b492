using StreamMtl.Pipeline.Runners;
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
/// Owns one model instance and the one thread that runs it (TorchSharp dispose scopes and no_grad are thread-local).
/// Streams attach lanes; each wake-up takes up to BatchSize frames from different lanes (waiting at most BatchTimeout for
/// more), round-robin so no stream starves, and runs each with its stream's runner (its own reuse state).
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
    private readonly Thread _thread;
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
        if (model.Threads > 0)
        {
            // libtorch's intra-op pool is process-wide: setting it here holds for the inference thread too.
            set_num_threads(model.Threads);
        }
        var (loaded, metadata) = ModelFile.Load(modelPath);
        loaded.eval();
        _model = loaded;
        Model = new LoadedModel(modelPath, metadata, model.InputWidth, model.InputHeight, LoadedModel.VersionOf(modelPath, metadata),
            clock.Elapsed, model.PrecisionName);
        metrics.ModelLoaded(Model);
        Log.ModelLoaded(logger, modelPath, Model.Version, Model.Precision, Model.LoadTime.TotalSeconds);
        Log.Threads(logger, get_num_threads(), OpenMpPolicy.Native() is { Length: > 0 } policy ? policy : "unset (spinning)");
        if (model.BFloat16 && Autocast.CpuHasBFloat16() == false)
        {
            Log.BFloat16Emulated(logger);
        }
        _thread = new Thread(Run) { Name = "streammtl-inference", IsBackground = true };
        _thread.Start();
    }

    public LoadedModel Model { get; }

    /// <summary>Attaches a stream; dropped jobs are disposed then passed to <paramref name="dropped"/>; results go to <paramref name="deliver"/> (on the inference thread: keep it short and non-blocking).</summary>
    public InferenceLane OpenLane(string streamId, ReuseSettings reuse, int capacity, BoundedChannelFullMode mode,
        Action<InferenceJob> dropped, Action<InferenceOutput> deliver)
    {
        var errors = reuse.Validate();
        if (errors.Count > 0)
        {
            throw new ArgumentException("invalid reuse settings: " + string.Join("; ", errors), nameof(reuse));
        }
        ObjectDisposedException.ThrowIf(_stop.IsCancellationRequested, this);
        var lane = new InferenceLane(this, streamId, reuse, capacity, mode, dropped, deliver);
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
        }
        if (lane.Runner is { } runner)
        {
            // Runners hold tensors: they are disposed on the inference thread.
            _retired.Enqueue(runner);
            lane.Runner = null;
            Signal();
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
                Collect(batch);
                if (batch.Count > 0 && batch.Count < _options.BatchSize && _options.BatchTimeout > TimeSpan.Zero)
                {
                    var deadline = _time.GetTimestamp() + (long)(_options.BatchTimeout.TotalSeconds * _time.TimestampFrequency);
                    while (batch.Count < _options.BatchSize && _time.GetTimestamp() < deadline)
                    {
                        var left = TimeSpan.FromSeconds((deadline - _time.GetTimestamp()) / (double)_time.TimestampFrequency);
                        if (left <= TimeSpan.Zero || !_signal.Wait(left, _stop.Token))
                        {
                            break;
                        }
                        Collect(batch);
                    }
                }
                if (batch.Count > 0)
                {
                    _metrics.BatchRun(batch.Count);
                    foreach (var group in batch.GroupBy(b => DenseBatch.Key(b.Lane, b.Job)))
                    {
                        if (group.Key is { } key && group.Count() > 1)
                        {
                            ExecuteBatch([.. group], key.Tasks, key.Share);
                            continue;
                        }
                        foreach (var (lane, job) in group)
                        {
                            Execute(lane, job);
                        }
                    }
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

    private void Collect(List<(InferenceLane Lane, InferenceJob Job)> batch)
    {
        lock (_gate)
        {
            int count = _lanes.Count;
            for (int i = 0; i < count && batch.Count < _options.BatchSize; i++)
            {
                var lane = _lanes[(_next + i) % count];
                if (batch.Any(b => b.Lane == lane))
                {
                    continue;
                }
                if (lane.TryTake(out var job))
                {
                    batch.Add((lane, job));
                }
            }
            _next = count == 0 ? 0 : (_next + 1) % count;
        }
    }

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
            lane.Runner ??= StreamRunners.Create(_model, lane.Reuse);
            if (lane.TakeReset())
            {
                lane.Runner.Reset();
            }
            FrameAnalysis analysis;
            using (var scope = NewDisposeScope())
            {
                var input = FrameInput.ToTensor(job.Input, Model.InputWidth, Model.InputHeight, Model.Config);
                analysis = lane.Runner.Run(input, job.Input.Index, job.Tasks);
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

    private void ExecuteBatch(List<(InferenceLane Lane, InferenceJob Job)> group, TaskSet tasks, float share)
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
        FrameAnalysis[] analyses;
        try
        {
            analyses = DenseBatch.Run(_model, Model, [.. live.Select(g => g.Job)], tasks, share);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // One bad frame must not fail the others: run them one by one.
            Log.InferenceFailed(_logger, "batch", e);
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
        if (_thread.IsAlive)
        {
            _thread.Join(TimeSpan.FromSeconds(10));
        }
    }

    private static partial class Log
    {
        [LoggerMessage(101, LogLevel.Information, "Model {Path} loaded: {Version}, {Precision} matrix products, in {Seconds:F2} s")]
        public static partial void ModelLoaded(ILogger logger, string path, string version, string precision, double seconds);

        [LoggerMessage(103, LogLevel.Warning, "Model:Precision is bfloat16 but this CPU has no native bfloat16 (no avx512_bf16, amx_bf16 or bf16 flag in /proc/cpuinfo): libtorch emulates it, slower than float32")]
        public static partial void BFloat16Emulated(ILogger logger);

        [LoggerMessage(104, LogLevel.Information, "libtorch: {Threads} intra-op threads, OpenMP wait policy {Policy}")]
        public static partial void Threads(ILogger logger, int threads, string policy);

        [LoggerMessage(102, LogLevel.Error, "Inference failed on stream {Stream}")]
        public static partial void InferenceFailed(ILogger logger, string stream, Exception error);
    }
}
