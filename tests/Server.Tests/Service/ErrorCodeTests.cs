using Grpc.Core;
using StreamMtl.Api.V1;
using StreamMtl.Server.Tests.Infrastructure;
using ApiTask = StreamMtl.Api.V1.Task;
using Task = System.Threading.Tasks.Task;

namespace StreamMtl.Server.Tests.Service;

/// <summary>Each bad input gets its specific status code.</summary>
public sealed class ErrorCodeTests
{
    [Fact]
    public async Task Unknown_streams_are_not_found()
    {
        await using var server = await ServerUnderTest.StartInProcessAsync();
        var c = server.Client;
        await RpcAssert.Fails(StatusCode.NotFound, () => c.GetStreamAsync(new GetStreamRequest { Id = "nope" }).ResponseAsync);
        await RpcAssert.Fails(StatusCode.NotFound, () => c.RemoveStreamAsync(new RemoveStreamRequest { Id = "nope" }).ResponseAsync);
        using var call = c.Subscribe(new SubscribeRequest { StreamId = "nope" });
        await RpcAssert.Fails(StatusCode.NotFound, () => call.ResponseStream.MoveNext(CancellationToken.None));
    }

    [Theory]
    [InlineData("bad id!", "synthetic://static", "stream id")]
    [InlineData("x", "", "empty")]
    [InlineData("x", "gopher://host/a", "not allowed")]
    [InlineData("x", "/etc/passwd", "not below an allowed directory")]
    [InlineData("x", "file:///etc/shadow", "not below an allowed directory")]
    [InlineData("x", "rtsp://user:secret@10.1.2.3/live", "not in the allowed hosts")]
    [InlineData("x", "synthetic://static?seed=abc", "seed")]
    public async Task Bad_or_disallowed_sources_are_invalid_arguments(string id, string uri, string expected)
    {
        await using var server = await ServerUnderTest.StartInProcessAsync();
        var e = await RpcAssert.Fails(StatusCode.InvalidArgument,
            () => server.Client.AddStreamAsync(new AddStreamRequest { Id = id, SourceUri = uri }).ResponseAsync);
        Assert.Contains(expected, e.Status.Detail, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("secret", e.Status.Detail);
    }

    [Fact]
    public async Task Bad_tasks_encodings_sizes_and_reuse_settings_are_invalid_arguments()
    {
        await using var server = await ServerUnderTest.StartInProcessAsync();
        var c = server.Client;
        await RpcAssert.Fails(StatusCode.InvalidArgument, () => c.AddStreamAsync(new AddStreamRequest
            { Id = "x", SourceUri = "synthetic://static", Tasks = { (ApiTask)42 } }).ResponseAsync);
        await RpcAssert.Fails(StatusCode.InvalidArgument, () => c.AddStreamAsync(new AddStreamRequest
            { Id = "x", SourceUri = "synthetic://static", Reuse = new StreamMtl.Api.V1.ReuseSettings { Budget = 3 } }).ResponseAsync);
        await RpcAssert.Fails(StatusCode.InvalidArgument, () => c.AddStreamAsync(new AddStreamRequest
            { Id = "x", SourceUri = "synthetic://static", Reuse = new StreamMtl.Api.V1.ReuseSettings { MaxIndexStep = 0 } }).ResponseAsync);
        await c.AddStreamAsync(new AddStreamRequest { Id = "seg", SourceUri = "synthetic://static?w=64&h=48", Tasks = { ApiTask.Segmentation } });
        var bad = new[]
        {
            new SubscribeRequest { StreamId = "seg", Tasks = { ApiTask.Depth } },
            new SubscribeRequest { StreamId = "seg", Tasks = { (ApiTask)9 } },
            new SubscribeRequest { StreamId = "seg", Encoding = new StreamMtl.Api.V1.Encoding { Depth = OutputFormat.PngLabels } },
            new SubscribeRequest { StreamId = "seg", Encoding = new StreamMtl.Api.V1.Encoding { InputJpegQuality = 101 } },
            new SubscribeRequest { StreamId = "seg", Encoding = new StreamMtl.Api.V1.Encoding { PngCompression = (PngCompression)7 } },
            new SubscribeRequest { StreamId = "seg", OutputSize = new StreamMtl.Api.V1.Size { Width = 4000, Height = 3000 } },
            new SubscribeRequest { StreamId = "seg", OutputSize = new StreamMtl.Api.V1.Size { Width = 8, Height = 8 } },
        };
        foreach (var request in bad)
        {
            using var call = c.Subscribe(request);
            await RpcAssert.Fails(StatusCode.InvalidArgument, () => call.ResponseStream.MoveNext(CancellationToken.None));
        }
    }

    [Theory]
    [InlineData(ComputeLevel.Minimal, ComputeLevel.Reduced, false, "floor (reduced) must not be above level (minimal)")]
    [InlineData(ComputeLevel.Coarse, ComputeLevel.Minimal, false, "floor (minimal) must not be above level (coarse)")]
    [InlineData((ComputeLevel)9, ComputeLevel.Unspecified, false, "level must be full, reduced, minimal, lean or coarse, got 9")]
    [InlineData(ComputeLevel.Unspecified, (ComputeLevel)(-3), false, "floor must be full, reduced, minimal, lean or coarse, got -3")]
    [InlineData(ComputeLevel.Reduced, ComputeLevel.Unspecified, true, "adaptive and level need temporal reuse")]
    public async Task Bad_compute_levels_are_invalid_arguments_naming_the_field(ComputeLevel level, ComputeLevel floor, bool dense, string expected)
    {
        await using var server = await ServerUnderTest.StartInProcessAsync();
        var reuse = new StreamMtl.Api.V1.ReuseSettings { Level = level, Floor = floor, Adaptive = true, Dense = dense };
        var e = await RpcAssert.Fails(StatusCode.InvalidArgument, () => server.Client.AddStreamAsync(new AddStreamRequest
            { Id = "x", SourceUri = "synthetic://static", Reuse = reuse }).ResponseAsync);
        Assert.Contains(expected, e.Status.Detail, StringComparison.Ordinal);
        // A Process call checks the same settings.
        using var call = server.Client.Process();
        await call.RequestStream.WriteAsync(new ProcessRequest { Config = new ProcessConfig { Reuse = reuse } });
        e = await RpcAssert.Fails(StatusCode.InvalidArgument, () => call.ResponseStream.MoveNext(CancellationToken.None));
        Assert.Contains(expected, e.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Raw_float16_over_the_message_limit_at_1080p_is_refused_but_png_is_accepted()
    {
        await using var server = await ServerUnderTest.StartInProcessAsync();
        await server.AddSyntheticAsync("cam");
        var fullHd = new StreamMtl.Api.V1.Size { Width = 1920, Height = 1080 };
        using (var raw = server.Client.Subscribe(new SubscribeRequest
        {
            StreamId = "cam", OutputSize = fullHd, Encoding = new StreamMtl.Api.V1.Encoding { Normals = OutputFormat.Float16 },
        }))
        {
            var e = await RpcAssert.Fails(StatusCode.InvalidArgument, () => raw.ResponseStream.MoveNext(CancellationToken.None));
            Assert.Contains("message limit", e.Status.Detail);
        }
        // Stored PNGs have a fixed size too: 1080p labels, depth and normals take 12.4 MB.
        using (var stored = server.Client.Subscribe(new SubscribeRequest
        {
            StreamId = "cam", OutputSize = fullHd, Encoding = new StreamMtl.Api.V1.Encoding { PngCompression = PngCompression.None },
        }))
        {
            var e = await RpcAssert.Fails(StatusCode.InvalidArgument, () => stored.ResponseStream.MoveNext(CancellationToken.None));
            Assert.Contains("png_compression NONE", e.Status.Detail);
        }
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        using var png = server.Client.Subscribe(new SubscribeRequest { StreamId = "cam", OutputSize = fullHd, Encoding = new StreamMtl.Api.V1.Encoding { IncludeInput = true } },
            cancellationToken: cts.Token);
        var result = Assert.Single(await TestResults.TakeAsync(png.ResponseStream, 1, cts.Token));
        Assert.True(result.CalculateSize() < 4 * 1024 * 1024, $"1080p result is {result.CalculateSize()} bytes");
    }

    [Fact]
    public async Task Limits_are_resource_exhausted_and_duplicates_already_exist()
    {
        await using var server = await ServerUnderTest.StartInProcessAsync(new Dictionary<string, string?> { ["StreamMtl:Limits:MaxStreams"] = "2" });
        var c = server.Client;
        await server.AddSyntheticAsync("a");
        await RpcAssert.Fails(StatusCode.AlreadyExists, () => server.AddSyntheticAsync("a"));
        await server.AddSyntheticAsync("b");
        await RpcAssert.Fails(StatusCode.ResourceExhausted, () => server.AddSyntheticAsync("c"));

        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var calls = new List<AsyncServerStreamingCall<FrameResult>>();
        try
        {
            for (int i = 0; i < 3; i++)
            {
                var call = c.Subscribe(new SubscribeRequest { StreamId = "a", Tasks = { ApiTask.Segmentation } }, cancellationToken: cts.Token);
                calls.Add(call);
                Assert.True(await call.ResponseStream.MoveNext(cts.Token));
            }
            using var fourth = c.Subscribe(new SubscribeRequest { StreamId = "a" }, cancellationToken: cts.Token);
            await RpcAssert.Fails(StatusCode.ResourceExhausted, () => fourth.ResponseStream.MoveNext(cts.Token));
        }
        finally
        {
            calls.ForEach(call => call.Dispose());
        }
    }

    [Fact]
    public async Task A_source_that_failed_is_unavailable()
    {
        string dir = Directory.CreateTempSubdirectory("streammtl-allowed").FullName;
        try
        {
            await using var server = await ServerUnderTest.StartInProcessAsync(new Dictionary<string, string?>
            {
                ["StreamMtl:Security:AllowedDirectories:0"] = dir,
            });
            // Allowed, but missing: the supervisor fails permanently (NotFound is not retried).
            await server.Client.AddStreamAsync(new AddStreamRequest { Id = "gone", SourceUri = Path.Combine(dir, "missing.mp4") });
            await Eventually.UntilAsync(async () => (await server.Client.GetStreamAsync(new GetStreamRequest { Id = "gone" })).State == StreamState.Failed,
                TimeSpan.FromSeconds(20), () => "stream did not fail");
            var info = await server.Client.GetStreamAsync(new GetStreamRequest { Id = "gone" });
            Assert.NotEmpty(info.LastError);
            using var call = server.Client.Subscribe(new SubscribeRequest { StreamId = "gone" });
            await RpcAssert.Fails(StatusCode.Unavailable, () => call.ResponseStream.MoveNext(CancellationToken.None));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task Api_keys_are_required_when_configured_but_health_stays_open()
    {
        const string key = "0123456789abcdef-test-key";
        await using var server = await ServerUnderTest.StartInProcessAsync(new Dictionary<string, string?> { ["StreamMtl:Security:ApiKeys:0"] = key });
        await RpcAssert.Fails(StatusCode.Unauthenticated, () => server.Client.GetModelInfoAsync(new GetModelInfoRequest()).ResponseAsync);
        await RpcAssert.Fails(StatusCode.Unauthenticated, () => server.Client.GetModelInfoAsync(new GetModelInfoRequest(),
            new Metadata { { "x-api-key", "0123456789abcdef-wrong" } }).ResponseAsync);
        var info = await server.Client.GetModelInfoAsync(new GetModelInfoRequest(), new Metadata { { "x-api-key", key } });
        Assert.NotEmpty(info.Version);
        info = await server.Client.GetModelInfoAsync(new GetModelInfoRequest(), new Metadata { { "authorization", "Bearer " + key } });
        Assert.NotEmpty(info.Version);
        var health = new Grpc.Health.V1.Health.HealthClient(server.Channel);
        var status = await health.CheckAsync(new Grpc.Health.V1.HealthCheckRequest());
        Assert.Equal(Grpc.Health.V1.HealthCheckResponse.Types.ServingStatus.Serving, status.Status);
    }
}
