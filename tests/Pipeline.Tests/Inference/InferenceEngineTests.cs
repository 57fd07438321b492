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

    /// <summary>A deterministic frame at the model's input size (a gradient shifted by the index).</summary>
    private static InferenceJob Job(long index, TaskSet tasks)
    {
        var image = new Mat(Height, Width, MatType.CV_8UC3);
        for (int y = 0; y < Height; y++)
        {
            for (int x = 0; x < Width; x++)
            {
                image.Set(y, x, new Vec3b((byte)(x * 4 + index), (byte)(y * 5), (byte)((x + y) * 2)));
            }
        }
        var frame = new Frame(image, index, TimeSpan.FromSeconds(index / 10.0), DateTimeOffset.UnixEpoch.AddSeconds(index));
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

        public void BatchRun(int frames) => Interlocked.Add(ref Frames, frames);
    }
}
