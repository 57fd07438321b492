using System.Diagnostics;
using System.Net;
using Grpc.Core;
using Grpc.Reflection.V1Alpha;
using StreamMtl.Api.V1;
using StreamMtl.Server.Tests.Infrastructure;
using ApiTask = StreamMtl.Api.V1.Task;
using Task = System.Threading.Tasks.Task;

namespace StreamMtl.Server.Tests.Hosting;

/// <summary>The service on real loopback sockets: gRPC on HTTP/2, metrics and health on a separate HTTP/1.1 port.</summary>
public sealed class SocketTests
{
    [Fact]
    public async Task Health_reflection_metrics_and_probes_are_served_on_their_ports()
    {
        await using var server = await ServerUnderTest.StartOnSocketsAsync();
        await server.AddSyntheticAsync("cam", alwaysOn: true);
        var health = new Grpc.Health.V1.Health.HealthClient(server.Channel);
        var status = await health.CheckAsync(new Grpc.Health.V1.HealthCheckRequest());
        Assert.Equal(Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus.Serving, status.Status);

        var reflection = new ServerReflection.ServerReflectionClient(server.Channel);
        using (var call = reflection.ServerReflectionInfo())
        {
            await call.RequestStream.WriteAsync(new ServerReflectionRequest { ListServices = "" });
            await call.RequestStream.CompleteAsync();
            Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
            Assert.Contains("streammtl.v1.VisionService", call.ResponseStream.Current.ListServicesResponse.Service.Select(s => s.Name));
        }

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync($"{server.MetricsUrl}/healthz")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync($"{server.MetricsUrl}/readyz")).StatusCode);
        // Histograms appear with their first observation, i.e. once a frame went through.
        await Eventually.UntilAsync(async () => (await http.GetStringAsync($"{server.MetricsUrl}/metrics")).Contains("streammtl_flops_saved_ratio_count{stream=\"cam\"} "),
            TimeSpan.FromSeconds(30), () => "no processed frames in /metrics");
        string metrics = await http.GetStringAsync($"{server.MetricsUrl}/metrics");
        foreach (var name in new[] { "streammtl_frames_ingested_total", "streammtl_frames_dropped_total", "streammtl_source_up", "streammtl_stage_latency_seconds_bucket",
            "streammtl_flops_dense_total", "streammtl_flops_executed_total", "streammtl_flops_saved_ratio_bucket", "streammtl_tokens_recomputed_ratio_bucket",
            "streammtl_model_info", "streammtl_queue_depth", "streammtl_subscribers" })
        {
            Assert.Contains(name, metrics);
        }
        // The metrics port is plain HTTP/1.1 without gRPC, and the gRPC port does not serve /metrics.
        Assert.NotEqual(HttpStatusCode.OK, (await http.GetAsync($"{server.MetricsUrl}/grpc.health.v1.Health/Check")).StatusCode);
        using var h2 = new HttpClient { DefaultRequestVersion = HttpVersion.Version20, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact, Timeout = TimeSpan.FromSeconds(10) };
        Assert.Equal(HttpStatusCode.NotFound, (await h2.GetAsync($"http://127.0.0.1:{server.GrpcPort}/metrics")).StatusCode);
    }

    [Fact]
    public async Task Shutdown_stops_streams_and_completes_subscribers_within_five_seconds()
    {
        var server = await ServerUnderTest.StartOnSocketsAsync();
        try
        {
            await server.AddSyntheticAsync("a");
            await server.AddSyntheticAsync("b");
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            var calls = new[] { "a", "a", "b" }.Select(id => server.Client.Subscribe(new SubscribeRequest { StreamId = id, Tasks = { ApiTask.Segmentation } },
                cancellationToken: cts.Token)).ToList();
            foreach (var call in calls)
            {
                Assert.True(await call.ResponseStream.MoveNext(cts.Token));
            }
            var drains = calls.Select(async call =>
            {
                try
                {
                    while (await call.ResponseStream.MoveNext(cts.Token))
                    {
                    }
                    return call.GetStatus().StatusCode;
                }
                catch (RpcException e)
                {
                    return e.StatusCode;
                }
            }).ToList();
            var clock = Stopwatch.StartNew();
            using var stopTimeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await server.App.StopAsync(stopTimeout.Token);
            var codes = await Task.WhenAll(drains).WaitAsync(TimeSpan.FromSeconds(10));
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"shutdown took {clock.Elapsed.TotalSeconds:F1} s");
            Assert.All(codes, c => Assert.Equal(StatusCode.OK, c));
            calls.ForEach(c => c.Dispose());
        }
        finally
        {
            await server.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_stuck_subscriber_neither_slows_another_nor_grows_memory_and_is_dropped_after_the_write_timeout()
    {
        await using var server = await ServerUnderTest.StartOnSocketsAsync(new Dictionary<string, string?>
        {
            ["StreamMtl:Pipeline:WriteTimeout"] = "00:00:04",
        });
        await server.AddSyntheticAsync("cam", spec: "synthetic://moving?seed=3&w=320&h=240&fps=20");
        var big = new SubscribeRequest
        {
            StreamId = "cam",
            // ~170 kB per result: far over the HTTP/2 window of a client that does not read, easy for one that does.
            Encoding = new StreamMtl.Api.V1.Encoding { IncludeInput = true, Depth = OutputFormat.Float16, Normals = OutputFormat.Float16 },
        };
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        // The stuck client has a connection of its own and never reads: HTTP/2 flow control soon blocks the server's writes.
        using var stuckChannel = Grpc.Net.Client.GrpcChannel.ForAddress($"http://127.0.0.1:{server.GrpcPort}");
        using var stuck = new VisionService.VisionServiceClient(stuckChannel).Subscribe(big, cancellationToken: cts.Token);
        using var healthy = server.Client.Subscribe(big, cancellationToken: cts.Token);
        Assert.True(await healthy.ResponseStream.MoveNext(cts.Token));
        long memoryBefore = GC.GetTotalMemory(forceFullCollection: true);

        var window = Stopwatch.StartNew();
        var before = await server.Client.GetStreamAsync(new GetStreamRequest { Id = "cam" });
        int received = 0;
        while (window.Elapsed < TimeSpan.FromSeconds(10) && await healthy.ResponseStream.MoveNext(cts.Token))
        {
            received++;
        }
        var after = await server.Client.GetStreamAsync(new GetStreamRequest { Id = "cam" });
        long processed = after.Counters.FramesProcessed - before.Counters.FramesProcessed;
        Assert.True(processed >= 8, $"only {processed} frames processed in 10 s");
        Assert.True(received >= processed * 0.7, $"healthy subscriber got {received} of {processed} processed frames");

        // The stuck one was dropped by the write timeout.
        Assert.Equal(1, after.Subscribers);
        var e = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            while (await stuck.ResponseStream.MoveNext(cts.Token))
            {
            }
        });
        Assert.Equal(StatusCode.DeadlineExceeded, e.StatusCode);
        long memoryAfter = GC.GetTotalMemory(forceFullCollection: true);
        Assert.True(memoryAfter - memoryBefore < 64L * 1024 * 1024, $"managed memory grew by {(memoryAfter - memoryBefore) / 1e6:F1} MB");
    }

    [Theory]
    // 1080p PNGs of every task and the input JPEG: under the send limit, blocked by flow control, dropped by the write timeout.
    [InlineData(1920, 1080, false, StatusCode.DeadlineExceeded)]
    // float16 depth at almost 1080p plus the rest: every result is over the send limit, so nothing is ever written.
    [InlineData(1800, 1040, true, StatusCode.ResourceExhausted)]
    public async Task A_stuck_subscriber_asking_for_bigger_results_than_a_healthy_one_is_ended_without_stalling_it(int width, int height,
        bool float16Depth, StatusCode expected)
    {
        var limit = TimeSpan.FromSeconds(60);
        await using var server = await ServerUnderTest.StartOnSocketsAsync(new Dictionary<string, string?>
        {
            ["StreamMtl:Pipeline:WriteTimeout"] = "00:00:03",
        });
        await server.AddSyntheticAsync("cam", spec: "synthetic://moving?seed=3&w=320&h=240&fps=20").WaitAsync(limit);
        var small = new SubscribeRequest { StreamId = "cam", Tasks = { ApiTask.Segmentation } };
        var big = new SubscribeRequest
        {
            StreamId = "cam",
            Encoding = new StreamMtl.Api.V1.Encoding { IncludeInput = true, Depth = float16Depth ? OutputFormat.Float16 : OutputFormat.Png16Depth },
            OutputSize = new StreamMtl.Api.V1.Size { Width = width, Height = height },
        };
        using var cts = new CancellationTokenSource(limit);
        using var stuckChannel = Grpc.Net.Client.GrpcChannel.ForAddress($"http://127.0.0.1:{server.GrpcPort}");
        using var stuck = new VisionService.VisionServiceClient(stuckChannel).Subscribe(big, cancellationToken: cts.Token);
        using var healthy = server.Client.Subscribe(small, cancellationToken: cts.Token);
        Assert.True(await healthy.ResponseStream.MoveNext(cts.Token).WaitAsync(limit));

        // The stuck subscriber is ended (write timeout, or results that can never be sent) while the healthy one keeps receiving.
        var clock = Stopwatch.StartNew();
        int received = 0;
        StreamInfo info;
        do
        {
            Assert.True(await healthy.ResponseStream.MoveNext(cts.Token).WaitAsync(limit), "healthy subscription ended");
            received++;
            info = await server.Client.GetStreamAsync(new GetStreamRequest { Id = "cam" }, cancellationToken: cts.Token).ResponseAsync.WaitAsync(limit);
        }
        while (info.Subscribers > 1 && clock.Elapsed < TimeSpan.FromSeconds(20));
        Assert.True(info.Subscribers == 1, $"stuck subscriber still there after {clock.Elapsed.TotalSeconds:F1} s ({received} results to the healthy one)");

        var window = Stopwatch.StartNew();
        received = 0;
        while (window.Elapsed < TimeSpan.FromSeconds(3) && await healthy.ResponseStream.MoveNext(cts.Token).WaitAsync(limit))
        {
            received++;
        }
        Assert.True(received >= 5, $"healthy subscriber got only {received} results in 3 s after the stuck one was dropped");

        var e = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            while (await stuck.ResponseStream.MoveNext(cts.Token).WaitAsync(limit))
            {
            }
        });
        Assert.Equal(expected, e.StatusCode);
    }
}
