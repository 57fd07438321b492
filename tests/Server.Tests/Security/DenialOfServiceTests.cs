using System.Globalization;
using Grpc.Core;
using Grpc.Net.Client;
using StreamMtl.Api.V1;
using StreamMtl.Server.Tests.Infrastructure;
using Xunit.Abstractions;
using Task = System.Threading.Tasks.Task;

namespace StreamMtl.Server.Tests.Security;

/// <summary>
/// Issue 21's denial of service, replayed against a real `streammtl serve` child on loopback in its default configuration
/// (the synthetic camera "camera", always on): four 4096x4096 synthetic cameras without a key, then the largest ones
/// the limits allow. Before the fix the process reached 4.4 GB and the camera fell from 15 to 0.2 fps; its rate before and
/// after is printed beside the run (docs/service.md, Security).
/// </summary>
public sealed class DenialOfServiceTests(ITestOutputHelper output)
{
    /// <summary>The documented bound (docs/service.md, Security): the served camera plus refused and idle attack streams.</summary>
    private const long RssBoundBytes = 1L << 30;

    private static readonly TimeSpan Window = TimeSpan.FromSeconds(6);

    [Fact]
    public async Task The_four_stream_attack_is_refused_or_idle_and_the_default_camera_keeps_its_rate_within_a_bounded_rss()
    {
        int grpcPort = FreePort.Next(), metricsPort = FreePort.Next();
        await using var server = ChildProcess.Start(Path.Combine(AppContext.BaseDirectory, "streammtl"), ["serve", "--model", TestModel.Path_,
            "--size", "160x128", "--address", "127.0.0.1", "--grpc-port", grpcPort.ToString(CultureInfo.InvariantCulture),
            "--metrics-port", metricsPort.ToString(CultureInfo.InvariantCulture), "--Logging:LogLevel:Default=Warning"]);
        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{grpcPort}");
        var client = new VisionService.VisionServiceClient(channel);
        await Eventually.UntilAsync(async () => await Started(client), TimeSpan.FromSeconds(90), () => "camera running: " + server.Output);

        double before = await CameraRate(client);
        var codes = new List<string>();
        for (int n = 0; n < 4; n++)
        {
            codes.Add(await Add(client, $"big{n}", $"synthetic://moving?seed={n}&w=4096&h=4096&fps=30&objects=24"));
        }
        for (int n = 0; n < 4; n++)
        {
            codes.Add(await Add(client, $"hd{n}", $"synthetic://moving?seed={n}&w=1920&h=1080&fps=30&objects=24"));
        }
        // The admitted ones open their source (a first frame proves it) and then go idle: on a loaded machine that takes seconds.
        Dictionary<string, StreamState> states = [];
        await Eventually.UntilAsync(async () =>
        {
            states = (await client.ListStreamsAsync(new ListStreamsRequest())).Streams.ToDictionary(s => s.Id, s => s.State);
            return states.Where(s => s.Key != "camera").All(s => s.Value == StreamState.Idle);
        }, TimeSpan.FromSeconds(60), () => "not idle: " + string.Join(", ", states.Select(s => $"{s.Key}={s.Value}")));
        double after = await CameraRate(client);
        long rss = RssBytes(server.Id);
        states = (await client.ListStreamsAsync(new ListStreamsRequest())).Streams.ToDictionary(s => s.Id, s => s.State);

        output.WriteLine($"camera {before:0.0} -> {after:0.0} results/s ({after / before:P0}); RSS {rss / 1048576.0:0} MiB; calls: {string.Join(", ", codes)}; " +
            $"states: {string.Join(", ", states.Select(s => $"{s.Key}={s.Value}"))}");
        // Over the source limits: refused. At the limits: two fit the client's pixel budget (and sit idle), the rest are refused.
        Assert.Equal(["ResourceExhausted", "ResourceExhausted", "ResourceExhausted", "ResourceExhausted", "OK", "OK", "ResourceExhausted", "ResourceExhausted"], codes);
        Assert.Equal(StreamState.Idle, states["hd0"]);
        Assert.Equal(StreamState.Idle, states["hd1"]);
        // The rate itself is reported, not asserted (a timed bound fails whenever the shared machine is busy: 6.6 -> 3.6
        // results/s in one local run beside a training job). What keeps the camera's rate is asserted instead: every
        // attack stream is refused or idle (no source, no inference), and the camera keeps running and producing.
        Assert.Equal(StreamState.Running, states["camera"]);
        Assert.True(after > 0, $"the camera stopped producing results ({before:0.0} -> {after:0.0} results/s)");
        Assert.Equal(["camera", "hd0", "hd1"], states.Keys.Order());
        Assert.True(rss < RssBoundBytes, $"RSS {rss / 1048576.0:0} MiB over the {RssBoundBytes / 1048576} MiB bound");
    }

    private static async Task<string> Add(VisionService.VisionServiceClient client, string id, string uri)
    {
        try
        {
            await client.AddStreamAsync(new AddStreamRequest { Id = id, SourceUri = uri });
            return "OK";
        }
        catch (RpcException e)
        {
            return e.StatusCode.ToString();
        }
    }

    private static async Task<bool> Started(VisionService.VisionServiceClient client)
    {
        try
        {
            return await CameraProcessed(client) >= 10;
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.Unavailable)
        {
            return false; // not listening yet
        }
    }

    private static async Task<long> CameraProcessed(VisionService.VisionServiceClient client) =>
        (await client.GetStreamAsync(new GetStreamRequest { Id = "camera" })).Counters.FramesProcessed;

    /// <summary>Results per second of the always-on camera over <see cref="Window"/>.</summary>
    private static async Task<double> CameraRate(VisionService.VisionServiceClient client)
    {
        long start = await CameraProcessed(client);
        var watch = System.Diagnostics.Stopwatch.StartNew();
        await Task.Delay(Window);
        return (await CameraProcessed(client) - start) / watch.Elapsed.TotalSeconds;
    }

    private static long RssBytes(int pid)
    {
        string line = File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
    }
}
