using System.Collections.Concurrent;
using System.Threading.Channels;
using Microsoft.Extensions.Logging.Abstractions;
using OpenCvSharp;
using StreamMtl.Ingest.Frames;
using StreamMtl.Pipeline.Inference;
using StreamMtl.Pipeline.Model;

namespace StreamMtl.Pipeline.Tests.Inference;

/// <summary>The inference engine without a host: lanes in, one output per job out, batching, lane lifetimes, load errors.</summary>
public sealed class InferenceEngineTests : IDisposable
{
    private const int Width = TinyEngine.Width;
    private const int Height = TinyEngine.Height;
    private static readonly ReuseSettings DenseSettings = new() { Dense = true };
    private readonly TempDirectory _dir = new();

    [Fact]
    public async Task Every_job_of_every_lane_comes_back_once_with_its_frame_and_tasks()
    {
        var metrics = new RecordingMetrics();
        using var tiny = new TinyEngine(metrics, batchSize: 4);
        var engine = tiny.Engine;
        Assert.Equal(1, metrics.Loaded);
        Assert.Equal($"{Width}x{Height}", $"{engine.Model.InputWidth}x{engine.Model.InputHeight}");
        var outputs = new ConcurrentDictionary<string, ConcurrentBag<(long Index, TaskSet Tasks, bool Ok)>>();
        var lanes = new List<InferenceLane>();
        var tasksOf = new Dictionary<string, TaskSet> { ["dense"] = TaskSet.All, ["reuse"] = TaskSet.Segmentation | TaskSet.Depth };
        foreach (var (id, reuse) in new[] { ("dense", DenseSettings), ("reuse", new ReuseSettings()) })
        {
            var bag = outputs.GetOrAdd(id, _ => []);
            lanes.Add(engine.OpenLane(id, reuse, 8, BoundedChannelFullMode.Wait, _ => Assert.Fail("a wait-mode lane dropped a job"), output =>
            {
                using (output)
                {
                    bag.Add((output.Job.Input.Index, output.Analysis?.Outputs is { } p ? TasksOf(p) : TaskSet.None, output.Analysis != null));
                }
            }));
        }
        for (int i = 0; i < 5; i++)
        {
            foreach (var lane in lanes)
            {
                await lane.EnqueueAsync(Job(i, tasksOf[lane.StreamId]), CancellationToken.None);
            }
        }
        await Eventually.UntilAsync(() => outputs.Values.Sum(b => b.Count) == 10, TimeSpan.FromSeconds(30),
            () => $"{outputs.Values.Sum(b => b.Count)} of 10 outputs");
        foreach (var (id, bag) in outputs)
        {
            Assert.Equal([0, 1, 2, 3, 4], bag.Select(o => o.Index).Order());
            Assert.All(bag, o => Assert.True(o.Ok, $"{id}: inference failed"));
            Assert.All(bag, o => Assert.Equal(tasksOf[id], o.Tasks));
        }
        Assert.True(metrics.Frames >= 10, $"batches reported {metrics.Frames} frames");
        lanes.ForEach(l => l.Dispose());
    }

    [Fact]
    public async Task Dense_lanes_batched_together_give_each_frame_what_it_gets_alone()
    {
        using var tiny = new TinyEngine(new RecordingMetrics(), batchSize: 4, batchTimeout: TimeSpan.FromMilliseconds(200));
        var engine = tiny.Engine;
        var alone = await RunAlone(engine);
        var results = new ConcurrentDictionary<string, Predictions>();
        var lanes = new[] { "a", "b", "c" }.Select(id => engine.OpenLane(id, DenseSettings, 2, BoundedChannelFullMode.Wait, _ => { },
            output =>
            {
                using (output)
                {
                    results[id] = output.Analysis!.Outputs;
                }
            })).ToList();
        foreach (var lane in lanes)
        {
            Assert.True(lane.TryEnqueue(Job(0, TaskSet.All)));
        }
        await Eventually.UntilAsync(() => results.Count == 3, TimeSpan.FromSeconds(30), () => $"{results.Count} of 3");
        foreach (var p in results.Values)
        {
            Assert.Equal(alone.Labels, p.Labels);
            Assert.All(alone.Depth!.Zip(p.Depth!), d => Assert.Equal(d.First, d.Second, 1e-4f));
        }
        lanes.ForEach(l => l.Dispose());
    }

    [Fact]
    public async Task Two_workers_run_each_stream_in_order_and_give_what_one_worker_gives()
    {
        const int Lanes = 4, Frames = 12;
        var one = await RunReuseStreams(workers: 1, Lanes, Frames);
        var two = await RunReuseStreams(workers: 2, Lanes, Frames);
        for (int lane = 0; lane < Lanes; lane++)
        {
            // Delivered in frame order: a lane is never run by two workers at once (its reuse state is sequential).
            Assert.Equal(Enumerable.Range(0, Frames).Select(i => (long)i), two[lane].Select(r => r.Index));
            for (int i = 0; i < Frames; i++)
            {
                Assert.Equal(one[lane][i].Keyframe, two[lane][i].Keyframe);
                Assert.Equal(one[lane][i].Labels, two[lane][i].Labels);
                Assert.All(one[lane][i].Depth.Zip(two[lane][i].Depth), d => Assert.Equal(d.First, d.Second, 1e-4f));
            }
        }
    }

    [Fact]
    public async Task Reuse_lanes_run_in_batches_give_what_each_gets_run_alone()
    {
        const int Lanes = 4, Frames = 12;
        var one = await RunReuseStreams(workers: 1, Lanes, Frames);
        var metrics = new RecordingMetrics();
        var batched = await RunReuseStreams(workers: 2, Lanes, Frames, batchReuse: true, metrics);
        // All frames were queued up front: each worker's first wake-up takes BatchSize of them.
        Assert.True(metrics.Largest > 1, $"largest batch {metrics.Largest}");
        for (int lane = 0; lane < Lanes; lane++)
        {
            Assert.Equal(Enumerable.Range(0, Frames).Select(i => (long)i), batched[lane].Select(r => r.Index));
            for (int i = 0; i < Frames; i++)
            {
                Assert.Equal(one[lane][i].Keyframe, batched[lane][i].Keyframe);
                // Products over more rows may sum in another order: equal within 1e-4 (a label could flip on a tie that close).
                Assert.True(one[lane][i].Labels.Zip(batched[lane][i].Labels).Count(p => p.First != p.Second) <= 1);
                Assert.All(one[lane][i].Depth.Zip(batched[lane][i].Depth), d => Assert.Equal(d.First, d.Second, 1e-4f));
            }
        }
    }

    /// <summary>Without BatchReuse, reuse frames share a batch only when the box is behind: once the overload controller has
    /// stepped their streams down, or once they waited ReuseBatchAfter; otherwise they run one per wake-up.</summary>
    /// <remarks>With <see cref="PipelineOptions.ReuseBatchAfter"/> at one tick every queued frame counts as having waited
    /// long enough, so streams at their own level batch too.</remarks>
    [Theory]
    [InlineData(ComputeLevel.Full, false)]
    [InlineData(ComputeLevel.Reduced, false)]
    [InlineData(ComputeLevel.Full, true)]
    public async Task Reuse_frames_run_in_batches_only_when_the_box_is_behind(ComputeLevel level, bool waited)
    {
        const int Frames = 8;
        var metrics = new RecordingMetrics();
        using var tiny = new TinyEngine(metrics, batchSize: 4, reuseBatchAfter: waited ? TimeSpan.FromTicks(1) : null);
        int delivered = 0;
        var settings = new ReuseSettings { Adaptive = true };
        var lanes = Enumerable.Range(0, 4).Select(n => tiny.Engine.OpenLane($"a{n}", settings, 4, BoundedChannelFullMode.Wait,
            _ => Assert.Fail("a wait-mode lane dropped a job"), output =>
            {
                using (output)
                {
                    Assert.Null(output.Error);
                    Interlocked.Increment(ref delivered);
                }
            })).ToList();
        // Four lanes keep frames queued while the worker runs: a wake-up finds several (lane capacity 4, waiting when full).
        for (int i = 0; i < Frames; i++)
        {
            foreach (var lane in lanes)
            {
                await lane.EnqueueAsync(WithLevel(Job(i, TaskSet.All), level), CancellationToken.None);
            }
        }
        await Eventually.UntilAsync(() => Volatile.Read(ref delivered) == 4 * Frames, TimeSpan.FromSeconds(30), () => $"{delivered} of {4 * Frames}");
        if (level == ComputeLevel.Full && !waited)
        {
            Assert.Equal(1, metrics.Largest);
        }
        else
        {
            Assert.True(metrics.Largest > 1, $"largest batch {metrics.Largest}");
        }
        lanes.ForEach(l => l.Dispose());
    }

    private static InferenceJob WithLevel(InferenceJob job, ComputeLevel level) =>
        new(job.Input, job.Tasks, job.EnqueuedAt, job.Preprocess) { Level = level };

    [Fact]
    public async Task Lanes_closed_while_two_workers_run_them_are_retired_without_failures()
    {
        using var tiny = new TinyEngine(new RecordingMetrics(), batchSize: 4, workers: 2);
        int failures = 0, delivered = 0;
        for (int round = 0; round < 6; round++)
        {
            var lanes = Enumerable.Range(0, 3).Select(i => tiny.Engine.OpenLane($"r{round}-{i}", new ReuseSettings(), 4, BoundedChannelFullMode.DropOldest,
                _ => { }, output =>
                {
                    using (output)
                    {
                        Interlocked.Increment(ref delivered);
                        if (output.Error != null)
                        {
                            Interlocked.Increment(ref failures);
                        }
                    }
                })).ToList();
            for (int i = 0; i < 4; i++)
            {
                lanes.ForEach(l => l.TryEnqueue(Job(i, TaskSet.All)));
            }
            await Eventually.UntilAsync(() => Volatile.Read(ref delivered) > round * 3, TimeSpan.FromSeconds(30), () => $"{delivered} delivered");
            // Closed with frames queued and, likely, one running on each worker.
            lanes.ForEach(l => l.Dispose());
        }
        Assert.Equal(0, failures);
        // Still serving after all that.
        Assert.Equal(TaskSet.All, TasksOf(await RunAlone(tiny.Engine)));
    }

    /// <summary>Runs <paramref name="lanes"/> reuse streams of <paramref name="frames"/> frames each (all queued up front) on an engine with <paramref name="workers"/> workers; the results per lane in delivery order.</summary>
    private static async Task<List<(long Index, bool Keyframe, byte[] Labels, float[] Depth)>[]> RunReuseStreams(int workers, int lanes, int frames,
        bool batchReuse = false, RecordingMetrics? metrics = null)
    {
        // One intra-op thread either way: only the worker count differs (thread counts change float summation order).
        using var tiny = new TinyEngine(metrics ?? new RecordingMetrics(), batchSize: 4, workers: workers, threads: 1, batchReuse: batchReuse);
        Assert.Equal(workers, tiny.Engine.Workers);
        var results = Enumerable.Range(0, lanes).Select(_ => new List<(long, bool, byte[], float[])>()).ToArray();
        var opened = Enumerable.Range(0, lanes).Select(n => tiny.Engine.OpenLane($"s{n}", new ReuseSettings { KeyframeInterval = 5 }, frames,
            BoundedChannelFullMode.Wait, _ => Assert.Fail("a wait-mode lane dropped a job"), output =>
            {
                using (output)
                {
                    var a = output.Analysis ?? throw new InvalidOperationException(output.Error);
                    lock (results[n])
                    {
                        results[n].Add((output.Job.Input.Index, a.Accounting.Keyframe, [.. a.Outputs.Labels!], [.. a.Outputs.Depth!]));
                    }
                }
            })).ToList();
        for (int i = 0; i < frames; i++)
        {
            for (int n = 0; n < lanes; n++)
            {
                // Each stream sees its own scene: the frame's gradient shifted by the lane too.
                await opened[n].EnqueueAsync(Job(i + 3 * n, TaskSet.All, index: i), CancellationToken.None);
            }
        }
        await Eventually.UntilAsync(() => results.All(r => { lock (r) { return r.Count == frames; } }), TimeSpan.FromSeconds(60),
            () => string.Join(", ", results.Select(r => r.Count)));
        opened.ForEach(l => l.Dispose());
        return results;
    }

    [Fact]
    public void A_closed_lane_takes_no_more_jobs_and_invalid_reuse_settings_are_refused()
    {
        using var tiny = new TinyEngine(new RecordingMetrics(), batchSize: 1);
        var engine = tiny.Engine;
        var lane = engine.OpenLane("x", DenseSettings, 1, BoundedChannelFullMode.DropOldest, _ => { }, o => o.Dispose());
        lane.Dispose();
        using var job = Job(0, TaskSet.All);
        Assert.False(lane.TryEnqueue(job));
        Assert.Throws<ArgumentException>(() => engine.OpenLane("y", new ReuseSettings { Threshold = -1 }, 1, BoundedChannelFullMode.DropOldest, _ => { }, o => o.Dispose()));
    }

    [Fact]
    public void A_missing_model_file_fails_the_start_with_its_path()
    {
        string missing = _dir.File("absent.safetensors");
        var e = Assert.ThrowsAny<Exception>(() => new InferenceEngine(missing, new ModelOptions(), new PipelineOptions(), new RecordingMetrics(),
            NullLogger<InferenceEngine>.Instance, TimeProvider.System));
        Assert.Contains("absent.safetensors", e.Message);
    }

    private async Task<Predictions> RunAlone(InferenceEngine engine)
    {
        var done = new TaskCompletionSource<Predictions>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var lane = engine.OpenLane("alone", DenseSettings, 1, BoundedChannelFullMode.Wait, _ => { }, output =>
        {
            using (output)
            {
                done.SetResult(output.Analysis!.Outputs);
            }
        });
        Assert.True(lane.TryEnqueue(Job(0, TaskSet.All)));
        return await done.Task.WaitAsync(TimeSpan.FromSeconds(30));
    }

    /// <summary>A deterministic frame at the model's input size (a gradient shifted by <paramref name="shift"/>), frame number <paramref name="index"/> (default: the shift).</summary>
    private static InferenceJob Job(long shift, TaskSet tasks, long? index = null)
    {
        long i = index ?? shift;
        var image = new Mat(Height, Width, MatType.CV_8UC3);
        for (int y = 0; y < Height; y++)
        {
            for (int x = 0; x < Width; x++)
            {
                image.Set(y, x, new Vec3b((byte)(x * 4 + shift), (byte)(y * 5), (byte)((x + y) * 2)));
            }
        }
        var frame = new Frame(image, i, TimeSpan.FromSeconds(i / 10.0), DateTimeOffset.UnixEpoch.AddSeconds(i));
        return new InferenceJob(frame, tasks, TimeProvider.System.GetTimestamp(), TimeSpan.Zero);
    }

    private static TaskSet TasksOf(Predictions p) =>
        (p.Labels != null ? TaskSet.Segmentation : TaskSet.None) | (p.Depth != null ? TaskSet.Depth : TaskSet.None)
        | (p.Normals != null ? TaskSet.Normals : TaskSet.None);

    public void Dispose() => _dir.Dispose();

    private sealed class RecordingMetrics : IInferenceMetrics
    {
        public int Loaded;
        public int Frames;

        public void ModelLoaded(LoadedModel model) => Interlocked.Increment(ref Loaded);

        public int Largest;

        public void BatchRun(int frames)
        {
            Interlocked.Add(ref Frames, frames);
            int seen;
            while (frames > (seen = Volatile.Read(ref Largest)) && Interlocked.CompareExchange(ref Largest, frames, seen) != seen)
            {
            }
        }
    }
}
