using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Grpc.Net.Client;
using StreamMtl.Api.V1;
using StreamMtl.Server.Service;
using StreamMtl.Server.Tests.Infrastructure;
using Xunit.Abstractions;
using Task = System.Threading.Tasks.Task;

namespace StreamMtl.Server.Tests.Cluster;

/// <summary>
/// The real thing on loopback: a Redis server and three <c>streammtl serve --cluster redis://…</c> processes. Nine
/// streams added through node A spread over the nodes within their limits; a subscriber on A gets a stream node C owns;
/// kill -9 of C moves C's streams to A and B, and a resubscription through A starts with a keyframe; restarting every
/// node brings all nine back from Redis.
/// </summary>
public sealed partial class ClusterProcessTests(ITestOutputHelper output)
{
    private const int Limit = 5;
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    // Failure detection as configured below: 2 missed probes of 1 s (plus a table refresh).
    private static readonly TimeSpan Detection = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan Startup = TimeSpan.FromSeconds(120);

    private sealed record Node(string Name, int GrpcPort, int MetricsPort, int SiloPort)
    {
        public ChildProcess? Process { get; set; }
    }

    [Fact]
    public async Task Nine_streams_spread_over_three_nodes_survive_a_kill_and_a_full_restart()
    {
        int redisPort = FreePort.Next();
        await using var redis = ChildProcess.Start("redis-server", ["--port", redisPort.ToString(Inv), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]);
        Node[] nodes = [.. new[] { "A", "B", "C" }.Select(n => new Node(n, FreePort.Next(), FreePort.Next(), FreePort.Next()))];
        try
        {
            foreach (var node in nodes)
            {
                node.Process = StartNode(node, redisPort);
            }
            using var channelA = GrpcChannel.ForAddress($"http://127.0.0.1:{nodes[0].GrpcPort}");
            var a = Client(channelA);
            foreach (var node in nodes)
            {
                await Eventually.UntilAsync(async () => await ClusterNodes(node) == 3, Startup, () => "three nodes never joined: " + Outputs(nodes));
            }
            // Every node reports its capacity to the registry once a second; after two periods all three are known.
            await Task.Delay(TimeSpan.FromSeconds(2));

            // Nine small, slow synthetic cameras, added through A. The last three run on demand (idle until subscribed),
            // so the first frame a subscriber gets after a move is the new node's first; added after six always-on
            // ones (two per node), each node gets one of them. s5 carries the node-to-node hop mark, which an add
            // ignores: it still goes through the registry (else it would never be listed and placed).
            for (int i = 0; i < 9; i++)
            {
                await AddWithRetry(a, new AddStreamRequest
                {
                    Id = $"s{i}",
                    SourceUri = $"synthetic://static?seed={i}&w=160&h=128&fps=2",
                    AlwaysOn = i < 6,
                }, nodes);
            }
            var placed = await Settled(a, nodes, "ABC");
            var perNode = placed.GroupBy(s => s.Node).ToDictionary(g => g.Key, g => g.Count());
            output.WriteLine("placement: " + string.Join(", ", placed.Select(s => $"{s.Id}@{s.Node}")));
            Assert.Equal(["A", "B", "C"], perNode.Keys.Order());
            Assert.All(perNode.Values, count => Assert.Equal(3, count));

            // A subscriber on A receives frames of a stream C owns (proxied node to node).
            string onC = placed.First(s => s.Node == "C" && string.CompareOrdinal(s.Id, "s6") < 0).Id;
            using (var call = a.Subscribe(new SubscribeRequest { StreamId = onC }))
            {
                var first = await Eventually.Within(Next(call), Startup);
                var second = await Eventually.Within(Next(call), Startup);
                Assert.Equal(onC, first.StreamId);
                Assert.True(second.FrameIndex > first.FrameIndex);
            }
            // C's on-demand stream, for the resubscription after the failover.
            string demand = placed.Single(s => s.Node == "C" && string.CompareOrdinal(s.Id, "s6") >= 0).Id;
            var movedIds = placed.Where(s => s.Node == "C").Select(s => s.Id).ToHashSet();

            var watch = Stopwatch.StartNew();
            nodes[2].Process!.Signal(9);
            await Eventually.UntilAsync(async () => await ClusterNodes(nodes[0]) == 2, Startup, () => "C never declared dead: " + Outputs(nodes));
            var detected = watch.Elapsed;
            var after = await Settled(a, nodes, "AB");
            var reactivated = watch.Elapsed;
            Assert.All(after.Where(s => movedIds.Contains(s.Id)), s => Assert.Contains(s.Node, new[] { "A", "B" }));
            // The issue's bar is detection + 10 s; detection is measured (when A's registry saw C gone), not assumed.
            Assert.True(reactivated < detected + TimeSpan.FromSeconds(10),
                $"streams back after {reactivated.TotalSeconds:0.0} s (detection {detected.TotalSeconds:0.0} s, configured {Detection.TotalSeconds:0} s)");
            // One live copy of every stream: the survivors run nine between them, neither over its limit.
            var local = new[] { await LocalStreams(nodes[0]), await LocalStreams(nodes[1]) };
            Assert.Equal(9, local.Sum());
            Assert.All(local, n => Assert.True(n <= Limit, $"{n} streams on one node (limit {Limit})"));
            Assert.Equal(movedIds.Count, await Moves(nodes[0], "failover") + await Moves(nodes[1], "failover"));

            // Resubscribing through A: frames again, the first computed in full on the new node.
            var resubscribed = Stopwatch.StartNew();
            using (var call = a.Subscribe(new SubscribeRequest { StreamId = demand }))
            {
                var first = await Eventually.Within(Next(call), Startup);
                Assert.True(first.Accounting.Keyframe, $"first frame after the move: keyframe={first.Accounting.Keyframe} ({first.Accounting.KeyframeReason})");
                Assert.Equal("start", first.Accounting.KeyframeReason);
            }
            output.WriteLine($"kill -9 of C: declared dead after {detected.TotalSeconds:0.0} s, all nine running after {reactivated.TotalSeconds:0.0} s; " +
                $"first frame of {demand} {resubscribed.Elapsed.TotalSeconds:0.0} s after resubscribing");

            // Whole-cluster restart: every definition comes back from Redis.
            foreach (var node in nodes.Take(2))
            {
                node.Process!.Signal(15);
                await node.Process.WaitAsync(TimeSpan.FromSeconds(60));
            }
            foreach (var node in nodes)
            {
                await node.Process!.DisposeAsync();
                node.Process = StartNode(node, redisPort);
            }
            using var channelB = GrpcChannel.ForAddress($"http://127.0.0.1:{nodes[1].GrpcPort}");
            var back = await Settled(Client(channelB), nodes, "ABC");
            Assert.Equal(Enumerable.Range(0, 9).Select(i => $"s{i}"), back.Select(s => s.Id));
        }
        finally
        {
            foreach (var node in nodes)
            {
                if (node.Process is { } process)
                {
                    await process.DisposeAsync();
                }
            }
        }
    }

    /// <summary>Every call carries the nodes' API key as a bearer token, which a node must pass on when it forwards a read or a subscription.</summary>
    private static VisionService.VisionServiceClient Client(GrpcChannel channel) =>
        new(channel.Intercept(metadata =>
        {
            metadata.Add("authorization", "Bearer " + ApiKey);
            return metadata;
        }));

    private const string ApiKey = "cluster-test-key-0123456789";

    private static ChildProcess StartNode(Node node, int redisPort) =>
        ChildProcess.Start(Path.Combine(AppContext.BaseDirectory, "streammtl"), ["serve", "--model", TestModel.Path_, "--size", "160x128",
            "--no-camera", "--cluster", $"redis://127.0.0.1:{redisPort}", "--address", "127.0.0.1",
            "--grpc-port", node.GrpcPort.ToString(Inv), "--metrics-port", node.MetricsPort.ToString(Inv),
            $"--StreamMtl:Cluster:SiloPort={node.SiloPort}", $"--StreamMtl:Cluster:NodeName={node.Name}",
            "--StreamMtl:Cluster:ProbeTimeout=00:00:01", "--StreamMtl:Cluster:MissedProbesLimit=2", "--StreamMtl:Cluster:VotesForDeath=1",
            $"--StreamMtl:Limits:MaxStreams={Limit}", $"--StreamMtl:Security:ApiKeys:0={ApiKey}", "--StreamMtl:Pipeline:InferenceWorkers=1", "--Logging:LogLevel:Default=Warning"]);

    private static async Task AddWithRetry(VisionService.VisionServiceClient client, AddStreamRequest request, Node[] nodes)
    {
        var headers = request.Id == "s5" ? new Metadata { { IClusterFrontDoor.HopHeader, "1" } } : null;
        // Until every node has reported its capacity, the registry may not see room for the stream yet.
        await Eventually.UntilAsync(async () =>
        {
            try
            {
                await client.AddStreamAsync(request, headers);
                return true;
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.ResourceExhausted)
            {
                return false;
            }
        }, Startup, () => $"{request.Id} never placed: " + Outputs(nodes));
    }

    /// <summary>ListStreams until all nine run (or wait on demand) on the given nodes.</summary>
    private static async Task<List<StreamInfo>> Settled(VisionService.VisionServiceClient client, Node[] nodes, string allowed)
    {
        List<StreamInfo> last = [];
        await Eventually.UntilAsync(async () =>
        {
            try
            {
                last = [.. (await client.ListStreamsAsync(new ListStreamsRequest(), deadline: DateTime.UtcNow.AddSeconds(10))).Streams];
            }
            catch (RpcException)
            {
                return false;
            }
            return last.Count == 9 && last.All(s => s.Node.Length == 1 && allowed.Contains(s.Node, StringComparison.Ordinal)
                && s.State is StreamState.Running or StreamState.Idle);
        }, Startup, () => "not settled: " + string.Join(", ", last.Select(s => $"{s.Id}@{s.Node}:{s.State}")) + "\n" + Outputs(nodes));
        return last;
    }

    private static async Task<FrameResult> Next(AsyncServerStreamingCall<FrameResult> call)
    {
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None), "the subscription ended");
        return call.ResponseStream.Current;
    }

    private static async Task<string> Metrics(Node node)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        return await http.GetStringAsync($"http://127.0.0.1:{node.MetricsPort}/metrics");
    }

    private static async Task<double> Metric(Node node, string line)
    {
        try
        {
            var match = Regex.Match(await Metrics(node), "^" + Regex.Escape(line) + @" (\S+)$", RegexOptions.Multiline);
            return match.Success ? double.Parse(match.Groups[1].Value, Inv) : 0;
        }
        catch (HttpRequestException)
        {
            return -1;
        }
    }

    private static async Task<int> ClusterNodes(Node node) => (int)await Metric(node, "streammtl_cluster_nodes");

    private static async Task<int> LocalStreams(Node node) => (int)await Metric(node, "streammtl_streams");

    private static async Task<int> Moves(Node node, string reason) => (int)await Metric(node, $"streammtl_stream_moves_total{{reason=\"{reason}\"}}");

    private static string Outputs(Node[] nodes) =>
        string.Join("\n", nodes.Select(n => $"--- node {n.Name}:\n" + string.Join("\n", (n.Process?.Output ?? "").Split('\n').TakeLast(25))));
}
