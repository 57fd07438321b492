using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans;
using Orleans.Configuration;
using Orleans.Hosting;
using Orleans.Runtime;
using Orleans.TestingHost;
using StreamMtl.Server.Cluster;
using StreamMtl.Server.Configuration;
using StreamMtl.Server.Metrics;

namespace StreamMtl.Server.Tests.Cluster;

/// <summary>
/// The stream registry, placement, limits, failover and handover on a real Orleans cluster of in-process silos (Orleans'
/// test cluster: real membership, failure detection and grain directory; each silo's pipeline replaced by a recorder).
/// The multi-process test with Redis and real nodes is ClusterProcessTests.
/// </summary>
public sealed class ClusterPlacementTests
{
    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(60);

    private sealed class TestCluster(InProcessTestCluster cluster, NodeLedger ledger, RecordedEvents events) : IAsyncDisposable
    {
        public InProcessTestCluster Cluster => cluster;
        public NodeLedger Ledger => ledger;
        public RecordedEvents Events => events;
        public IStreamCatalogGrain Catalog => cluster.Client.GetGrain<IStreamCatalogGrain>(0);

        public async ValueTask DisposeAsync()
        {
            await cluster.StopAllSilosAsync();
            await cluster.DisposeAsync();
        }
    }

    private static async Task<TestCluster> StartAsync(int silos, int limit)
    {
        var ledger = new NodeLedger();
        var events = new RecordedEvents();
        var builder = new InProcessTestClusterBuilder((short)silos);
        builder.ConfigureSilo((_, silo) =>
        {
            silo.AddMemoryGrainStorage(ClusterHosting.Storage);
            silo.Services.AddPlacementDirector<CatalogPlacementStrategy, CatalogPlacementDirector>();
            silo.Configure<ClusterMembershipOptions>(o =>
            {
                o.ProbeTimeout = TimeSpan.FromSeconds(1);
                o.NumMissedProbesLimit = 2;
                o.NumVotesForDeathDeclaration = 1;
            });
        });
        builder.ConfigureSiloHost((_, host) =>
        {
            var services = host.Services;
            services.AddSingleton(ledger);
            services.AddSingleton<IClusterEvents>(events);
            services.AddSingleton<ServerMetrics>();
            services.AddSingleton(Options.Create(new ServiceOptions { Cluster = new ClusterNodeOptions { Redis = "unused:0", ReconcilePeriod = TimeSpan.FromMilliseconds(250), HandoverTimeout = TimeSpan.FromSeconds(20) } }));
            services.AddSingleton<ILocalStreams>(sp => new FakeNodeStreams(sp.GetRequiredService<ILocalSiloDetails>(), ledger, limit));
            services.AddSingleton<ClusterNode>();
            services.AddHostedService(sp => sp.GetRequiredService<ClusterNode>());
        });
        var cluster = builder.Build();
        await cluster.DeployAsync();
        var test = new TestCluster(cluster, ledger, events);
        // Every node has reported its capacity once.
        await Eventually.UntilAsync(async () => (await test.Catalog.Add(Record("probe"))).Outcome.Succeeded, Settle, () => "the first stream was never placed");
        Assert.True(await test.Catalog.Remove("probe"));
        return test;
    }

    private static StreamRecord Record(string id) => new(id, [], "test", $"synthetic://static?seed={id.Length}");

    [Fact]
    public async Task Streams_spread_over_the_nodes_and_no_node_exceeds_its_limit()
    {
        await using var test = await StartAsync(silos: 3, limit: 3);
        for (int i = 0; i < 9; i++)
        {
            var answer = await test.Catalog.Add(Record($"cam{i}"));
            Assert.True(answer.Outcome.Succeeded, answer.Outcome.Message);
        }
        var full = await test.Catalog.Add(Record("cam9"));
        Assert.Equal((int)Grpc.Core.StatusCode.ResourceExhausted, full.Outcome.Code);

        var owners = test.Ledger.Owners();
        Assert.Equal(9, owners.Count);
        Assert.All(owners.GroupBy(o => o.Value), g => Assert.Equal(3, g.Count()));
        var listed = await test.Catalog.List();
        Assert.Equal(Enumerable.Range(0, 9).Select(i => $"cam{i}"), listed.Select(l => l.Id));
        Assert.All(listed, l => Assert.Equal(owners[l.Id].ToString(), l.Node));
        Assert.Equal(0, test.Ledger.Violations);
    }

    [Fact]
    public async Task A_refused_stream_is_not_kept_and_a_removed_stream_stops()
    {
        await using var test = await StartAsync(silos: 2, limit: 4);
        var refused = await test.Catalog.Add(Record("bad1"));
        Assert.Equal((int)Grpc.Core.StatusCode.InvalidArgument, refused.Outcome.Code);
        Assert.Contains("refused", refused.Outcome.Message, StringComparison.Ordinal);
        Assert.Null(await test.Catalog.Locate("bad1"));

        Assert.True((await test.Catalog.Add(Record("cam1"))).Outcome.Succeeded);
        Assert.Equal((int)Grpc.Core.StatusCode.AlreadyExists, (await test.Catalog.Add(Record("cam1"))).Outcome.Code);
        Assert.True(await test.Catalog.Remove("cam1"));
        Assert.False(await test.Catalog.Remove("cam1"));
        Assert.Empty(test.Ledger.Owners());
        Assert.Null(await test.Catalog.Locate("cam1"));
    }

    [Fact]
    public async Task A_killed_nodes_streams_move_to_the_survivors_within_their_limits()
    {
        await using var test = await StartAsync(silos: 3, limit: 3);
        for (int i = 0; i < 6; i++)
        {
            Assert.True((await test.Catalog.Add(Record($"cam{i}"))).Outcome.Succeeded);
        }
        // Not the primary silo: the test cluster's membership table lives there.
        var victim = test.Cluster.Silos[^1];
        var lost = test.Ledger.Owners().Where(o => o.Value.Equals(victim.SiloAddress)).Select(o => o.Key).ToList();
        Assert.Equal(2, lost.Count);

        await test.Cluster.KillSiloAsync(victim);
        test.Ledger.Kill(victim.SiloAddress);
        await Eventually.UntilAsync(() => test.Ledger.Owners().Count == 6, Settle, () => "the killed node's streams were not re-placed");

        var owners = test.Ledger.Owners();
        Assert.DoesNotContain(owners.Values, s => s.Equals(victim.SiloAddress));
        Assert.All(owners.GroupBy(o => o.Value), g => Assert.Equal(3, g.Count()));
        Assert.All(lost, id => Assert.True(test.Ledger.Starts(id) >= 2, $"{id} was not started again"));
        // The test cluster's kill still runs the silo host's stopping hooks, so the node may hand over instead of
        // vanishing; a real kill -9 (failover proper) is ClusterProcessTests.
        Assert.True(lost.Order().SequenceEqual(test.Events.Placed.Where(p => p.Reason is "failover" or "handover").Select(p => p.Stream).Order()),
            string.Join(", ", test.Events.Placed));
        Assert.Equal(0, test.Ledger.Violations);
        var listed = await test.Catalog.List();
        Assert.All(listed, l => Assert.Equal(owners[l.Id].ToString(), l.Node));
    }

    [Fact]
    public async Task A_node_that_refuses_a_stream_for_cost_passes_it_to_the_next_candidate()
    {
        await using var test = await StartAsync(silos: 3, limit: 4);
        var silos = test.Cluster.Silos.Select(s => s.SiloAddress).OrderBy(s => s.ToString(), StringComparer.Ordinal).ToList();
        // The nodes ranked first (equal load and slots: by name) have no budget left; the last one has.
        foreach (var tight in silos.SkipLast(1))
        {
            test.Ledger.Tight[tight] = true;
        }
        var answer = await test.Catalog.Add(Record("wide1"));
        Assert.True(answer.Outcome.Succeeded, answer.Outcome.Message);
        Assert.Equal(silos[^1], test.Ledger.Owners()["wide1"]);

        // Every node refuses: the node's own reason comes back and nothing is kept.
        test.Ledger.Tight[silos[^1]] = true;
        var refused = await test.Catalog.Add(Record("wide2"));
        Assert.Equal((int)Grpc.Core.StatusCode.ResourceExhausted, refused.Outcome.Code);
        Assert.Contains("budget", refused.Outcome.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("wide2", (await test.Catalog.List()).Select(l => l.Id));
        Assert.Equal(0, test.Ledger.Violations);
    }

    [Fact]
    public async Task A_node_that_stops_gracefully_hands_its_streams_over_before_it_leaves()
    {
        await using var test = await StartAsync(silos: 3, limit: 4);
        for (int i = 0; i < 6; i++)
        {
            Assert.True((await test.Catalog.Add(Record($"cam{i}"))).Outcome.Succeeded);
        }
        var leaving = test.Cluster.Silos[^1];
        var moving = test.Ledger.Owners().Where(o => o.Value.Equals(leaving.SiloAddress)).Select(o => o.Key).Order().ToList();
        Assert.NotEmpty(moving);

        await test.Cluster.StopSiloAsync(leaving);

        // Handed over during the stop itself, not after failure detection: no wait here.
        var owners = test.Ledger.Owners();
        Assert.Equal(6, owners.Count);
        Assert.DoesNotContain(owners.Values, s => s.Equals(leaving.SiloAddress));
        Assert.Equal(moving, test.Events.Placed.Where(p => p.Reason == "handover").Select(p => p.Stream).Order());
        Assert.Equal(0, test.Ledger.Violations);
    }

    [Fact]
    public async Task A_stream_its_live_node_lost_is_started_there_again()
    {
        await using var test = await StartAsync(silos: 2, limit: 4);
        Assert.True((await test.Catalog.Add(Record("cam0"))).Outcome.Succeeded);
        var owner = test.Ledger.Owners()["cam0"];

        // The stream vanishes from its node behind its owner grain's back; the node's next report says so.
        test.Ledger.Stop(owner, "cam0");
        await Eventually.UntilAsync(() => Task.FromResult(test.Ledger.Starts("cam0") == 2), Settle, () => "never started again");
        Assert.Equal(owner, test.Ledger.Owners()["cam0"]);
        Assert.Equal(["added", "restart"], test.Events.Placed.Where(p => p.Stream == "cam0").Select(p => p.Reason));
        // Reports that merely predate a start never count as a restart.
        Assert.Equal(1, test.Events.Placed.Count(p => p.Reason == "restart"));
    }

    [Fact]
    public async Task The_registry_comes_back_from_storage_after_its_grain_is_deactivated()
    {
        await using var test = await StartAsync(silos: 2, limit: 4);
        for (int i = 0; i < 3; i++)
        {
            Assert.True((await test.Catalog.Add(Record($"cam{i}"))).Outcome.Succeeded);
        }
        var before = await test.Catalog.List();
        await test.Cluster.DeactivateAsync(test.Catalog);

        // A fresh activation reads the definitions and owners from storage; node reports refill the endpoints.
        await Eventually.UntilAsync(async () => (await test.Catalog.List()).All(l => l.Placed), Settle, () => "the re-activated registry never knew its nodes");
        Assert.Equal(before, await test.Catalog.List());
        Assert.Equal(3, test.Ledger.Owners().Count);
        Assert.All(before, l => Assert.Equal(1, test.Ledger.Starts(l.Id)));
    }
}
