using Grpc.Core;
using StreamMtl.Api.V1;
using StreamMtl.Server.Tests.Infrastructure;
using Task = System.Threading.Tasks.Task;

namespace StreamMtl.Server.Tests.Security;

/// <summary>Issue 21: admission by cost per client and per node, per-client call rate limits, and idle streams that cost nothing.</summary>
public sealed class AdmissionBudgetTests
{
    private const string KeyA = "client-a-0123456789abcdef";
    private const string KeyB = "client-b-0123456789abcdef";

    // 1920x1080 at 30 fps: 62.2 Mpx/s of source pixels, whatever the tasks.
    private static AddStreamRequest FullHd(string id) => new() { Id = id, SourceUri = "synthetic://moving?seed=1&w=1920&h=1080&fps=30&objects=24" };

    private static Metadata As(string key) => new() { { "x-api-key", key } };

    private static Dictionary<string, string?> TwoClients(Dictionary<string, string?>? more = null)
    {
        var config = new Dictionary<string, string?>
        {
            ["StreamMtl:Security:ApiKeys:0"] = KeyA,
            ["StreamMtl:Security:ApiKeys:1"] = KeyB,
            ["StreamMtl:Limits:MaxStreams"] = "8",
        };
        foreach (var (k, v) in more ?? [])
        {
            config[k] = v;
        }
        return config;
    }

    [Fact]
    public async Task A_client_over_its_pixel_budget_gets_resource_exhausted_naming_the_limit_and_removing_a_stream_frees_it()
    {
        await using var server = await ServerUnderTest.StartInProcessAsync(TwoClients(new()
        {
            ["StreamMtl:Limits:ClientMegapixelsPerSecond"] = "130",
            ["StreamMtl:Limits:ClientTaskFramesPerSecond"] = "1000",
        }));
        var c = server.Client;
        await c.AddStreamAsync(FullHd("a1"), As(KeyA));
        await c.AddStreamAsync(FullHd("a2"), As(KeyA));

        var e = await RpcAssert.Fails(StatusCode.ResourceExhausted, () => c.AddStreamAsync(FullHd("a3"), As(KeyA)).ResponseAsync);
        Assert.Contains("Limits:ClientMegapixelsPerSecond", e.Status.Detail);
        Assert.Contains("186.6 of 130", e.Status.Detail);
        // A smaller declared stream still fits: the budget is cost, not count.
        await c.AddStreamAsync(new AddStreamRequest { Id = "a3", SourceUri = "synthetic://static?seed=2&w=320&h=240&fps=10" }, As(KeyA));
        // Another client has a budget of its own.
        await c.AddStreamAsync(FullHd("b1"), As(KeyB));

        await c.RemoveStreamAsync(new RemoveStreamRequest { Id = "a1" }, As(KeyA));
        await c.AddStreamAsync(FullHd("a4"), As(KeyA));
    }

    [Fact]
    public async Task The_node_budget_holds_across_clients()
    {
        await using var server = await ServerUnderTest.StartInProcessAsync(TwoClients(new() { ["StreamMtl:Limits:NodeMegapixelsPerSecond"] = "150" }));
        var c = server.Client;
        await c.AddStreamAsync(FullHd("a1"), As(KeyA));
        await c.AddStreamAsync(FullHd("b1"), As(KeyB));

        var e = await RpcAssert.Fails(StatusCode.ResourceExhausted, () => c.AddStreamAsync(FullHd("b2"), As(KeyB)).ResponseAsync);
        Assert.Contains("Limits:NodeMegapixelsPerSecond", e.Status.Detail);
    }

    [Fact]
    public async Task A_flood_from_one_client_is_rate_limited_without_starving_another()
    {
        await using var server = await ServerUnderTest.StartInProcessAsync(TwoClients(new()
        {
            ["StreamMtl:Limits:CallsPerSecondPerClient"] = "1",
            ["StreamMtl:Limits:CallBurstPerClient"] = "5",
        }));
        var c = server.Client;
        var codes = new List<StatusCode>();
        string? detail = null;
        for (int i = 0; i < 30; i++)
        {
            try
            {
                await c.RemoveStreamAsync(new RemoveStreamRequest { Id = "nothing" }, As(KeyA));
                codes.Add(StatusCode.OK);
            }
            catch (RpcException e)
            {
                codes.Add(e.StatusCode);
                detail = e.StatusCode == StatusCode.ResourceExhausted ? e.Status.Detail : detail;
            }
        }

        // The burst reaches the service (NOT_FOUND: no such stream); the rest of the flood is refused.
        Assert.InRange(codes.Count(s => s == StatusCode.NotFound), 5, 8);
        Assert.InRange(codes.Count(s => s == StatusCode.ResourceExhausted), 22, 25);
        Assert.Contains("Limits:CallsPerSecondPerClient", detail);
        // The other client is served at once, and calls that start no work are never limited.
        await RpcAssert.Fails(StatusCode.NotFound, () => c.RemoveStreamAsync(new RemoveStreamRequest { Id = "nothing" }, As(KeyB)).ResponseAsync);
        await c.ListStreamsAsync(new ListStreamsRequest(), As(KeyA));
    }

    [Fact]
    public async Task A_stream_nobody_watches_is_idle_and_reads_nothing_until_subscribed()
    {
        await using var server = await ServerUnderTest.StartInProcessAsync(new Dictionary<string, string?> { ["StreamMtl:Pipeline:IdleGrace"] = "00:00:00.2" });
        var c = server.Client;
        await c.AddStreamAsync(new AddStreamRequest { Id = "quiet", SourceUri = "synthetic://moving?seed=4&w=320&h=240&fps=30" });
        await Eventually.UntilAsync(async () => (await c.GetStreamAsync(new GetStreamRequest { Id = "quiet" })).State == StreamState.Idle,
            TimeSpan.FromSeconds(30), () => "idle");
        // One frame proves the source opens (a broken one fails even unwatched); then nothing is rendered.
        var ingested = (await c.GetStreamAsync(new GetStreamRequest { Id = "quiet" })).Counters.FramesIngested;
        await Task.Delay(TimeSpan.FromMilliseconds(500));
        Assert.InRange(ingested, 0, 1);
        Assert.Equal(ingested, (await c.GetStreamAsync(new GetStreamRequest { Id = "quiet" })).Counters.FramesIngested);

        using (var call = c.Subscribe(new SubscribeRequest { StreamId = "quiet" }))
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            Assert.True(await call.ResponseStream.MoveNext(cts.Token));
            Assert.Equal(StreamState.Running, (await c.GetStreamAsync(new GetStreamRequest { Id = "quiet" })).State);
        }

        await Eventually.UntilAsync(async () => (await c.GetStreamAsync(new GetStreamRequest { Id = "quiet" })).State == StreamState.Idle,
            TimeSpan.FromSeconds(30), () => "idle again after the last subscriber left");
    }

    [Fact]
    public async Task Process_sessions_are_limited_per_client()
    {
        await using var server = await ServerUnderTest.StartInProcessAsync(TwoClients(new() { ["StreamMtl:Limits:MaxProcessSessionsPerClient"] = "1" }));
        var c = server.Client;
        using var first = c.Process(As(KeyA));
        await first.RequestStream.WriteAsync(new ProcessRequest { Config = new ProcessConfig { StreamId = "s1" } });
        // The second call must arrive after the server took the first in: raced, the second could be the one admitted, and
        // it then waited for frames with no deadline (a hung suite on a loaded machine).
        var sessions = (StreamMtl.Server.Service.ProcessSessions)server.App.Services.GetService(typeof(StreamMtl.Server.Service.ProcessSessions))!;
        await Eventually.UntilAsync(() => Task.FromResult(sessions.Active == 1), TimeSpan.FromSeconds(30), () => $"{sessions.Active} process sessions, expected 1");
        using var second = c.Process(As(KeyA), deadline: DateTime.UtcNow.AddSeconds(30));
        await second.RequestStream.WriteAsync(new ProcessRequest { Config = new ProcessConfig { StreamId = "s2" } });
        var e = await RpcAssert.Fails(StatusCode.ResourceExhausted, () => second.ResponseStream.MoveNext(CancellationToken.None));
        Assert.Contains("Limits:MaxProcessSessionsPerClient", e.Status.Detail);
        using var other = c.Process(As(KeyB), deadline: DateTime.UtcNow.AddSeconds(30));
        await other.RequestStream.WriteAsync(new ProcessRequest { Config = new ProcessConfig { StreamId = "s3" } });
        await other.RequestStream.CompleteAsync();
        Assert.False(await other.ResponseStream.MoveNext(CancellationToken.None));
        await first.RequestStream.CompleteAsync();
    }
}
