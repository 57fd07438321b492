using StreamMtl.Ingest.Supervision;
using Microsoft.Extensions.Logging.Abstractions;
using StreamMtl.Ingest.Sources;
using StreamMtl.Pipeline.Inference;
using StreamMtl.Pipeline.Model;
using StreamMtl.Pipeline.Results;
using StreamMtl.Pipeline.Streams;
using StreamMtl.Pipeline.Tests.Inference;

namespace StreamMtl.Pipeline.Tests.Streams;

/// <summary>One camera stream without a host: the synthetic camera through the real engine to subscribers.</summary>
public sealed class CameraStreamTests : IDisposable
{
    private const string Source = "synthetic://static?seed=3&w=64&h=48&fps=30";
    private readonly RecordingStreamMetrics _metrics = new();
    private readonly TinyEngine _tiny;

    public CameraStreamTests() => _tiny = new TinyEngine(_metrics);

    [Fact]
    public async Task A_subscriber_gets_encoded_results_of_its_tasks_and_ends_cleanly_when_the_stream_stops()
    {
        var stream = Start(alwaysOn: false);
        var spec = Spec(TaskSet.Segmentation | TaskSet.Depth);
        var subscriber = stream.Subscribe(spec, 4, out var error) ?? throw new InvalidOperationException(error);
        var results = new List<EncodedResult>();
        var pump = subscriber.PumpAsync((r, _, _) =>
        {
            lock (results)
            {
                results.Add(r);
            }
            return Task.CompletedTask;
        }, TimeSpan.FromSeconds(5), TimeProvider.System, CancellationToken.None);
        await Eventually.UntilAsync(() => { lock (results) return results.Count >= 3; }, TimeSpan.FromSeconds(60), () => $"{results.Count} results");
        await stream.DisposeAsync();
        await pump.WaitAsync(TimeSpan.FromSeconds(10));

        lock (results)
        {
            Assert.All(results, r => Assert.Equal([VisionTask.Segmentation, VisionTask.Depth], r.Outputs.Select(o => o.Task)));
            Assert.All(results, r => Assert.Equal(["preprocess", "queue", "inference", "encode"], r.Timings.Select(t => t.Stage)));
            Assert.Equal(results.Select(r => r.FrameIndex).Order(), results.Select(r => r.FrameIndex));
        }
        var snapshot = stream.Snapshot();
        Assert.True(snapshot.FramesProcessed >= 3 && snapshot.FramesIngested >= snapshot.FramesProcessed, $"{snapshot}");
        Assert.Equal(1, _metrics["cam:opened"]);
        Assert.True(_metrics["cam:processed"] >= 3);
    }

    [Fact]
    public async Task Without_subscribers_a_stream_that_is_not_always_on_reads_and_computes_nothing()
    {
        var stream = Start(alwaysOn: false);
        await Eventually.UntilAsync(() => stream.Status.State == StreamState.Idle, TimeSpan.FromSeconds(30), () => stream.Status.ToString());
        await Task.Delay(TimeSpan.FromSeconds(1));
        // The source is read once (it opens), then paused: nothing is rendered, nothing computed.
        Assert.InRange(stream.Snapshot().FramesIngested, 0, 1);
        Assert.Equal(0, stream.Snapshot().FramesProcessed);
        Assert.Equal(StreamState.Idle, stream.Status.State);
        await stream.DisposeAsync();
    }

    [Fact]
    public async Task A_spec_whose_results_never_fit_the_message_limit_is_ended_with_resource_exhausted()
    {
        var stream = Start(alwaysOn: true, maxMessageBytes: 100);
        var subscriber = stream.Subscribe(Spec(TaskSet.All), 4, out _)!;
        var e = await Assert.ThrowsAsync<PipelineException>(() => subscriber.PumpAsync((_, _, _) => Task.CompletedTask, TimeSpan.FromSeconds(5),
            TimeProvider.System, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(60)));
        Assert.Equal(FailureKind.ResourceExhausted, e.Failure.Kind);
        Assert.Contains("exceed the 100-byte message limit", e.Failure.Message);
        Assert.Equal(1, _metrics["cam:ended:result_too_large"]);
        Assert.Equal(0, stream.SubscriberCount);
        await stream.DisposeAsync();
    }

    [Fact]
    public async Task The_registry_returns_its_refusals_as_values()
    {
        await using var registry = new StreamRegistry(_tiny.Engine, new FrameSourceFactory(TimeProvider.System), _metrics,
            new RegistryOptions(MaxStreams: 1, MaxMessageBytes: 4 << 20, r => (int)r.PayloadBytes), new PipelineOptions(), TimeProvider.System,
            NullLoggerFactory.Instance);
        var (stream, failure) = await registry.AddAsync(Definition("a"));
        Assert.NotNull(stream);
        Assert.Null(failure);
        Assert.Equal(FailureKind.AlreadyExists, (await registry.AddAsync(Definition("a"))).Failure?.Kind);
        Assert.Equal(FailureKind.ResourceExhausted, (await registry.AddAsync(Definition("b"))).Failure?.Kind);
        Assert.Equal(FailureKind.InvalidArgument, (await registry.AddAsync(Definition("c") with { SourceUri = "ftp://x/y" })).Failure?.Kind);
        Assert.True(await registry.RemoveAsync("a"));
        Assert.False(await registry.RemoveAsync("a"));
        Assert.Equal(1, _metrics["a:closed"]);
        await registry.DisposeAsync();
        var refused = (await registry.AddAsync(Definition("d"))).Failure;
        Assert.Equal(new Failure(FailureKind.Unavailable, "the server is shutting down"), refused);
    }

    private CameraStream Start(bool alwaysOn, int maxMessageBytes = 4 << 20)
    {
        var stream = new CameraStream(Definition("cam") with { AlwaysOn = alwaysOn }, new FrameSourceFactory(TimeProvider.System), _tiny.Engine,
            _metrics, new PipelineOptions(), TimeProvider.System, NullLogger.Instance, maxMessageBytes);
        stream.Start();
        return stream;
    }

    private static StreamDefinition Definition(string id) => new(id, Source, TaskSet.All, AlwaysOn: true, MaxFps: 0, ReuseSettings.Default);

    private static OutputSpec Spec(TaskSet tasks) =>
        new(tasks, PayloadFormat.Png16Depth, PayloadFormat.PngRgb8Normals, OutputSpec.DefaultDepthScale, false, 80, TinyEngine.Width, TinyEngine.Height);

    public void Dispose() => _tiny.Dispose();
}
