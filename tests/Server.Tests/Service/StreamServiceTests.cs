using Grpc.Core;
using OpenCvSharp;
using StreamMtl.Api.V1;
using StreamMtl.Server.Service;
using StreamMtl.Server.Tests.Infrastructure;
using ApiTask = StreamMtl.Api.V1.Task;
using Task = System.Threading.Tasks.Task;

namespace StreamMtl.Server.Tests.Service;

/// <summary>In-process (TestServer) tests of stream management and Subscribe with a tiny random model.</summary>
public sealed class StreamServiceTests
{
    [Fact]
    public async Task Subscribe_delivers_decodable_outputs_of_the_requested_tasks_at_the_requested_size()
    {
        await using var server = await ServerUnderTest.StartInProcessAsync();
        await server.AddSyntheticAsync("cam");
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        using var call = server.Client.Subscribe(new SubscribeRequest
        {
            StreamId = "cam",
            OutputSize = new StreamMtl.Api.V1.Size { Width = 200, Height = 150 },
            Encoding = new StreamMtl.Api.V1.Encoding { IncludeInput = true },
        }, cancellationToken: cts.Token);
        var results = await TestResults.TakeAsync(call.ResponseStream, 3, cts.Token);
        Assert.Equal(3, results.Count);
        Assert.True(results.Zip(results.Skip(1)).All(p => p.First.FrameIndex < p.Second.FrameIndex), "frame indices increase");
        var result = results[^1];
        Assert.Equal("cam", result.StreamId);
        Assert.Equal([ApiTask.Segmentation, ApiTask.Depth, ApiTask.Normals], result.Outputs.Select(o => o.Task));
        var labels = TestResults.Labels(result.Outputs[0], out int w, out int h);
        Assert.Equal((200, 150), (w, h));
        Assert.All(labels, l => Assert.True(l < 7));
        using (var depth = ResultOutputs.DecodeDepth(result.Outputs[1]))
        {
            Assert.Equal(new OpenCvSharp.Size(200, 150), depth.Size());
        }
        using (var normals = Cv2.ImDecode(result.Outputs[2].Data.Span, ImreadModes.Color))
        {
            Assert.Equal(new OpenCvSharp.Size(200, 150), normals.Size());
        }
        using (var input = Cv2.ImDecode(result.InputJpeg.Span, ImreadModes.Color))
        {
            Assert.Equal(new OpenCvSharp.Size(200, 150), input.Size());
        }
        Assert.Equal(3, result.Accounting.Flops.Count);
        Assert.All(result.Accounting.Flops, f => Assert.True(f.Dense > 0 && f.Executed > 0));
        Assert.Contains(result.Timings, t => t.Stage == "inference" && t.Seconds > 0);
        Assert.Contains(result.Timings, t => t.Stage == "encode");
    }

    [Fact]
    public async Task Only_subscribed_tasks_are_computed_and_float16_outputs_have_exact_sizes()
    {
        await using var server = await ServerUnderTest.StartInProcessAsync();
        await server.AddSyntheticAsync("cam");
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        using var call = server.Client.Subscribe(new SubscribeRequest
        {
            StreamId = "cam",
            Tasks = { ApiTask.Depth },
            Encoding = new StreamMtl.Api.V1.Encoding { Depth = OutputFormat.Float16 },
        }, cancellationToken: cts.Token);
        var result = (await TestResults.TakeAsync(call.ResponseStream, 2, cts.Token))[^1];
        var output = Assert.Single(result.Outputs);
        Assert.Equal(ApiTask.Depth, output.Task);
        Assert.Equal(160 * 128 * 2, output.Data.Length);
        // Depth needs the shared base blocks but not the segmentation or normals heads: only depth is accounted.
        Assert.Equal([ApiTask.Depth], result.Accounting.Flops.Select(f => f.Task));
    }

    [Fact]
    public async Task A_subscriber_joining_mid_stream_gets_every_task_it_asked_for_from_its_first_result()
    {
        await using var server = await ServerUnderTest.StartInProcessAsync();
        await server.AddSyntheticAsync("cam");
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        // Frames are computed for segmentation only while this one is alone.
        using var segmentation = await server.SubscribeSegmentationAsync("cam", cts.Token);
        // Joins land while a segmentation-only frame is in flight about half the time; such a frame must not reach the newcomer.
        for (int join = 0; join < 8; join++)
        {
            using var joiner = new CancellationTokenSource();
            using var all = server.Client.Subscribe(new SubscribeRequest { StreamId = "cam" }, cancellationToken: joiner.Token);
            var first = Assert.Single(await TestResults.TakeAsync(all.ResponseStream, 1, cts.Token));
            Assert.Equal([ApiTask.Segmentation, ApiTask.Depth, ApiTask.Normals], first.Outputs.Select(o => o.Task));
            Assert.Equal(3, first.Accounting.Flops.Count);
            joiner.Cancel();
            Assert.Single(await TestResults.TakeAsync(segmentation.ResponseStream, 1, cts.Token));
        }
    }

    [Fact]
    public async Task Streams_can_be_listed_inspected_and_removed_and_removal_completes_subscribers()
    {
        await using var server = await ServerUnderTest.StartInProcessAsync();
        var added = await server.AddSyntheticAsync("a", alwaysOn: true, spec: "synthetic://static?seed=1&w=64&h=48&fps=30");
        Assert.Equal("a", added.Id);
        await server.AddSyntheticAsync("b");
        var list = await server.Client.ListStreamsAsync(new ListStreamsRequest());
        Assert.Equal(["a", "b"], list.Streams.Select(s => s.Id));
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        using var call = await server.SubscribeSegmentationAsync("a", cts.Token);
        var info = await server.Client.GetStreamAsync(new GetStreamRequest { Id = "a" });
        Assert.Equal(StreamState.Running, info.State);
        Assert.True(info.Counters.FramesProcessed >= 1);
        Assert.Equal(1, info.Subscribers);
        await server.Client.RemoveStreamAsync(new RemoveStreamRequest { Id = "a" });
        // The subscription ends cleanly once the stream is gone.
        while (await call.ResponseStream.MoveNext(cts.Token))
        {
        }
        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
        await RpcAssert.Fails(StatusCode.NotFound, () => server.Client.GetStreamAsync(new GetStreamRequest { Id = "a" }).ResponseAsync);
        Assert.Equal(["b"], (await server.Client.ListStreamsAsync(new ListStreamsRequest())).Streams.Select(s => s.Id));
    }

    [Fact]
    public async Task A_streams_compute_level_is_in_every_result_and_in_the_metrics()
    {
        await using var server = await ServerUnderTest.StartInProcessAsync();
        const string spec = "synthetic://static?seed=3&w=160&h=128&fps=30";
        await server.Client.AddStreamAsync(new AddStreamRequest
        {
            Id = "lean", SourceUri = spec, Reuse = new StreamMtl.Api.V1.ReuseSettings { Level = ComputeLevel.Reduced },
        });
        await server.Client.AddStreamAsync(new AddStreamRequest
        {
            Id = "adaptive", SourceUri = spec, Reuse = new StreamMtl.Api.V1.ReuseSettings { Adaptive = true, Floor = ComputeLevel.Reduced },
        });
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        using var call = server.Client.Subscribe(new SubscribeRequest { StreamId = "lean" }, cancellationToken: cts.Token);
        var results = await TestResults.TakeAsync(call.ResponseStream, 4, cts.Token);
        Assert.All(results, r => Assert.Equal(ComputeLevel.Reduced, r.Accounting.ComputeLevel));
        // After the first (key)frame one sub-task is held per frame, and its output is still delivered.
        Assert.All(results.Skip(1), r => Assert.Single(r.Accounting.HeldTasks));
        Assert.All(results, r => Assert.Equal([ApiTask.Segmentation, ApiTask.Depth, ApiTask.Normals], r.Outputs.Select(o => o.Task)));
        Assert.All(results.Skip(1), r => Assert.Equal(2, r.Accounting.Flops.Count));
        using var adaptiveCall = server.Client.Subscribe(new SubscribeRequest { StreamId = "adaptive" }, cancellationToken: cts.Token);
        var adaptive = await TestResults.TakeAsync(adaptiveCall.ResponseStream, 1, cts.Token);
        Assert.Contains(adaptive[0].Accounting.ComputeLevel, new[] { ComputeLevel.Full, ComputeLevel.Reduced });

        var exported = new System.IO.MemoryStream();
        var registry = ((StreamMtl.Server.Metrics.ServerMetrics)server.App.Services.GetService(typeof(StreamMtl.Server.Metrics.ServerMetrics))!).Registry;
        await registry.CollectAndExportAsTextAsync(exported, cts.Token);
        string metrics = System.Text.Encoding.UTF8.GetString(exported.ToArray());
        Assert.Contains("streammtl_compute_level{stream=\"lean\"} 1", metrics);
        Assert.Matches("streammtl_compute_level\\{stream=\"adaptive\"\\} [01]\n", metrics);
        Assert.Contains("streammtl_compute_level_changes_total{stream=\"adaptive\",direction=\"down\"}", metrics);
        Assert.Contains("streammtl_compute_level_changes_total{stream=\"adaptive\",direction=\"up\"}", metrics);
    }

    [Fact]
    public async Task Credentials_never_appear_in_stream_info_or_metrics()
    {
        int deadPort = FreePort.Next();
        await using var server = await ServerUnderTest.StartInProcessAsync(new Dictionary<string, string?> { ["StreamMtl:Security:AllowedHosts:0"] = "127.0.0.1" });
        await server.Client.AddStreamAsync(new AddStreamRequest { Id = "door", SourceUri = $"rtsp://admin:hunter2@127.0.0.1:{deadPort}/live?token=abc123" });
        // Nothing listens there: the stream goes to backoff with an error that quotes the URL.
        await Eventually.UntilAsync(async () => (await server.Client.GetStreamAsync(new GetStreamRequest { Id = "door" })).LastError.Length > 0,
            TimeSpan.FromSeconds(30), () => "no error reported");
        var info = await server.Client.GetStreamAsync(new GetStreamRequest { Id = "door" });
        string text = info.ToString();
        Assert.DoesNotContain("hunter2", text);
        Assert.DoesNotContain("abc123", text);
        Assert.Contains("***", info.SourceUri);
        var metrics = new System.IO.MemoryStream();
        var registry = ((StreamMtl.Server.Metrics.ServerMetrics)server.App.Services.GetService(typeof(StreamMtl.Server.Metrics.ServerMetrics))!).Registry;
        await registry.CollectAndExportAsTextAsync(metrics);
        string exported = System.Text.Encoding.UTF8.GetString(metrics.ToArray());
        Assert.Contains("stream=\"door\"", exported);
        Assert.DoesNotContain("hunter2", exported);
        Assert.DoesNotContain("127.0.0.1", exported);
        // A reconnecting source is Unavailable to new subscribers. Between backoffs the source is briefly connecting, and a
        // subscriber arriving then is accepted and waits for frames (a hang in one CI run, when the call had no deadline):
        // ask again, each call with a deadline, until one arrives during a backoff.
        RpcException? refused = null;
        await Eventually.UntilAsync(async () =>
        {
            using var call = server.Client.Subscribe(new SubscribeRequest { StreamId = "door" }, deadline: DateTime.UtcNow.AddSeconds(2));
            try
            {
                await call.ResponseStream.MoveNext(CancellationToken.None);
            }
            catch (RpcException e) when (e.StatusCode is StatusCode.Unavailable)
            {
                refused = e;
            }
            catch (RpcException e) when (e.StatusCode is StatusCode.DeadlineExceeded)
            {
            }
            return refused is not null;
        }, TimeSpan.FromSeconds(30), () => "no subscription was refused as unavailable while the source reconnects");
        Assert.Contains("reconnecting", refused!.Status.Detail);
        Assert.DoesNotContain("hunter2", refused.Status.Detail);
    }

    [Fact]
    public async Task Model_info_lists_tasks_classes_and_input_size()
    {
        await using var server = await ServerUnderTest.StartInProcessAsync();
        var info = await server.Client.GetModelInfoAsync(new GetModelInfoRequest());
        Assert.Equal([ApiTask.Segmentation, ApiTask.Depth, ApiTask.Normals], info.Tasks);
        Assert.Equal(7, info.Classes.Count);
        Assert.Equal("floor", info.Classes[0].Name);
        Assert.Equal((128u << 16) | (64u << 8) | 128u, info.Classes[0].Color);
        Assert.Equal((160, 128), (info.InputSize.Width, info.InputSize.Height));
        Assert.Equal(1, info.SplitLayer);
        Assert.StartsWith("streammtl-mtvit/1+sha256.", info.Version);
    }

    /// <summary>Issue 21: the reconnect policy is per stream. A 1 fps camera stalls under a 0.5 s stall timeout, not under the default.</summary>
    [Fact]
    public async Task A_per_stream_reconnect_policy_applies_to_that_stream_only_and_bad_values_are_invalid()
    {
        await using var server = await ServerUnderTest.StartInProcessAsync();
        var c = server.Client;
        const string slow = "synthetic://static?seed=5&w=64&h=48&fps=1";
        await c.AddStreamAsync(new AddStreamRequest { Id = "strict", SourceUri = slow, AlwaysOn = true, Reconnect = new ReconnectPolicy { StallTimeoutS = 0.5 } });
        await c.AddStreamAsync(new AddStreamRequest { Id = "default", SourceUri = slow, AlwaysOn = true });

        await Eventually.UntilAsync(async () => (await c.GetStreamAsync(new GetStreamRequest { Id = "strict" })).Counters.Stalls >= 1,
            TimeSpan.FromSeconds(30), () => "strict stream never stalled");
        Assert.Equal(0, (await c.GetStreamAsync(new GetStreamRequest { Id = "default" })).Counters.Stalls);

        foreach (var bad in new[] { new ReconnectPolicy { StallTimeoutS = 1e308 }, new ReconnectPolicy { BackoffInitialS = double.NaN },
            new ReconnectPolicy { StallTimeoutS = 0.01 }, new ReconnectPolicy { BackoffInitialS = 10, BackoffMaxS = 1 } })
        {
            var e = await RpcAssert.Fails(StatusCode.InvalidArgument,
                () => c.AddStreamAsync(new AddStreamRequest { Id = "bad", SourceUri = slow, Reconnect = bad }).ResponseAsync);
            Assert.Contains("invalid reconnect policy", e.Status.Detail);
        }
    }
}
