using Grpc.Core.Interceptors;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using StreamMtl.Api.V1;
using StreamMtl.Server.Hosting;
using Task = System.Threading.Tasks.Task;

namespace StreamMtl.Server.Tests.Infrastructure;

/// <summary>The real service host with test configuration: in-process (TestServer) or on real loopback sockets.</summary>
internal sealed class ServerUnderTest : IAsyncDisposable
{
    private readonly GrpcChannel _channel;

    private ServerUnderTest(WebApplication app, GrpcChannel channel, int grpcPort, int metricsPort)
    {
        App = app;
        _channel = channel;
        GrpcPort = grpcPort;
        MetricsPort = metricsPort;
        Client = new VisionService.VisionServiceClient(channel.Intercept(new DefaultDeadline(TimeSpan.FromMinutes(3))));
    }

    public WebApplication App { get; }
    public VisionService.VisionServiceClient Client { get; }
    public GrpcChannel Channel => _channel;
    public int GrpcPort { get; }
    public int MetricsPort { get; }
    public string MetricsUrl => $"http://127.0.0.1:{MetricsPort}";

    public static Dictionary<string, string?> BaseConfig(string? model = null) => new()
    {
        ["StreamMtl:Model:Path"] = model ?? TestModel.Path_,
        ["StreamMtl:Model:InputWidth"] = "160",
        ["StreamMtl:Model:InputHeight"] = "128",
        ["StreamMtl:Model:Threads"] = "1",
        ["StreamMtl:StartDeclaredStreams"] = "false",
        ["StreamMtl:Limits:MaxStreams"] = "4",
        ["StreamMtl:Limits:MaxSubscribersPerStream"] = "3",
        // Tests call in bursts (the fuzz sends 1,200 calls) from one client; the rate limit has tests of its own.
        ["StreamMtl:Limits:CallsPerSecondPerClient"] = "10000",
        ["StreamMtl:Limits:CallBurstPerClient"] = "10000",
        ["StreamMtl:Pipeline:WriteTimeout"] = "00:00:10",
        // Generous: on a loaded 2-core machine the synthetic renderer can fall seconds behind.
        ["StreamMtl:Pipeline:StallTimeout"] = "00:00:15",
    };

    public static async Task<ServerUnderTest> StartInProcessAsync(IDictionary<string, string?>? overrides = null,
        Microsoft.Extensions.Logging.ILoggerProvider? logs = null)
    {
        var config = BaseConfig();
        foreach (var (k, v) in overrides ?? new Dictionary<string, string?>())
        {
            config[k] = v;
        }
        var app = ServerHost.Build([], builder =>
        {
            builder.Configuration.Sources.Clear();
            builder.Configuration.AddInMemoryCollection(config);
            if (Environment.GetEnvironmentVariable("STREAMMTL_TEST_LOGS") != "1") builder.Logging.ClearProviders();
            if (logs != null) builder.Logging.AddProvider(logs);
            builder.WebHost.UseTestServer();
        }, separatePorts: false);
        await app.StartAsync();
        var handler = app.GetTestServer().CreateHandler();
        var channel = GrpcChannel.ForAddress("http://localhost", new GrpcChannelOptions { HttpHandler = handler });
        return new ServerUnderTest(app, channel, 0, 0);
    }

    public static async Task<ServerUnderTest> StartOnSocketsAsync(IDictionary<string, string?>? overrides = null)
    {
        int grpcPort = FreePort.Next();
        int metricsPort = FreePort.Next();
        var config = BaseConfig();
        config["StreamMtl:Endpoints:Address"] = "127.0.0.1";
        config["StreamMtl:Endpoints:GrpcPort"] = grpcPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
        config["StreamMtl:Endpoints:MetricsPort"] = metricsPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
        foreach (var (k, v) in overrides ?? new Dictionary<string, string?>())
        {
            config[k] = v;
        }
        var app = ServerHost.Build([], builder =>
        {
            builder.Configuration.Sources.Clear();
            builder.Configuration.AddInMemoryCollection(config);
            if (Environment.GetEnvironmentVariable("STREAMMTL_TEST_LOGS") != "1") builder.Logging.ClearProviders();
        });
        await app.StartAsync();
        var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{grpcPort}", new GrpcChannelOptions { ServiceConfig = RetryUnavailable() });
        return new ServerUnderTest(app, channel, grpcPort, metricsPort);
    }

    /// <summary>Retries calls that failed before reaching the server (connection reset on a heavily loaded machine).</summary>
    public static Grpc.Net.Client.Configuration.ServiceConfig RetryUnavailable() => new()
    {
        MethodConfigs =
        {
            new Grpc.Net.Client.Configuration.MethodConfig
            {
                Names = { Grpc.Net.Client.Configuration.MethodName.Default },
                RetryPolicy = new Grpc.Net.Client.Configuration.RetryPolicy
                {
                    MaxAttempts = 3, InitialBackoff = TimeSpan.FromMilliseconds(200), MaxBackoff = TimeSpan.FromSeconds(1), BackoffMultiplier = 2,
                    RetryableStatusCodes = { StatusCode.Unavailable },
                },
            },
        },
    };

    public Task<StreamInfo> AddSyntheticAsync(string id, bool alwaysOn = false, string spec = "synthetic://static?seed=3&w=160&h=128&fps=30") =>
        Client.AddStreamAsync(new AddStreamRequest { Id = id, SourceUri = spec, AlwaysOn = alwaysOn }).ResponseAsync;

    /// <summary>Subscribes to <paramref name="streamId"/> for segmentation only and returns once the first result arrived.</summary>
    public async Task<AsyncServerStreamingCall<FrameResult>> SubscribeSegmentationAsync(string streamId, CancellationToken cancellationToken)
    {
        var call = Client.Subscribe(new SubscribeRequest { StreamId = streamId, Tasks = { Api.V1.Task.Segmentation } }, cancellationToken: cancellationToken);
        if ((await TestResults.TakeAsync(call.ResponseStream, 1, cancellationToken)).Count != 1)
        {
            call.Dispose();
            throw new InvalidOperationException($"the segmentation subscription to '{streamId}' ended before its first result");
        }
        return call;
    }

    public async ValueTask DisposeAsync()
    {
        _channel.Dispose();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await App.StopAsync(timeout.Token);
        await App.DisposeAsync();
    }
}

/// <summary>Assertions on gRPC failures.</summary>
internal static class RpcAssert
{
    public static async Task<RpcException> Fails(StatusCode code, Func<Task> call)
    {
        var e = await Assert.ThrowsAsync<RpcException>(call);
        Assert.True(e.StatusCode == code, $"expected {code}, got {e.StatusCode}: {e.Status.Detail}");
        return e;
    }
}
