using StreamMtl.Server.Configuration;
using System.Net;
using Orleans.Runtime;
using StreamMtl.Server.Cluster;

namespace StreamMtl.Server.Tests.Cluster;

public sealed class StreamPlacementTests
{
    private static SiloAddress Silo(int port) => SiloAddress.New(new IPEndPoint(IPAddress.Loopback, port), 1);

    private static NodeReport Node(int port, int limit, int running = 0, double load = 0) => new(Silo(port), $"n{port}", $"http://127.0.0.1:{port}", limit, [.. Enumerable.Range(0, running).Select(i => $"s{i}")], load);

    [Fact]
    public void The_node_with_the_most_free_slots_wins_then_the_less_busy_then_by_name()
    {
        var nodes = new[] { Node(1, 4), Node(2, 4), Node(3, 2) };
        var assigned = new Dictionary<SiloAddress, int> { [Silo(1)] = 3, [Silo(2)] = 1 };
        Assert.Equal("n2", StreamPlacement.Choose(nodes, assigned, new HashSet<SiloAddress>())!.Name);
        // n2 and n3 both have 2 free: the one running fewer streams wins, then the name.
        assigned[Silo(2)] = 2;
        Assert.Equal("n3", StreamPlacement.Choose([Node(1, 4), Node(2, 4, running: 2), Node(3, 2, running: 0)], assigned, new HashSet<SiloAddress>())!.Name);
        Assert.Equal("n2", StreamPlacement.Choose([Node(2, 4), Node(3, 4)], new Dictionary<SiloAddress, int>(), new HashSet<SiloAddress>())!.Name);
    }

    [Fact]
    public void Between_equal_free_slots_the_less_loaded_node_comes_first_and_a_node_out_of_budget_gets_nothing()
    {
        // n1 and n2 have 2 free slots each, but n1's streams hold most of its cost budget (e.g. a 1080p camera); n3 has
        // the most free slots and no budget left.
        var nodes = new[] { Node(1, 4, running: 2, load: 0.7), Node(2, 4, running: 2, load: 0.3), Node(3, 8, running: 1, load: StreamPlacement.FullLoad), Node(4, 2) };
        var assigned = new Dictionary<SiloAddress, int> { [Silo(1)] = 2, [Silo(2)] = 2, [Silo(3)] = 1, [Silo(4)] = 1 };
        Assert.Equal(["n2", "n1", "n4"], StreamPlacement.Rank(nodes, assigned, new HashSet<SiloAddress>()).Select(n => n.Name));
    }

    [Fact]
    public void Full_and_leaving_nodes_get_nothing()
    {
        var nodes = new[] { Node(1, 2), Node(2, 2) };
        var assigned = new Dictionary<SiloAddress, int> { [Silo(1)] = 2, [Silo(2)] = 1 };
        Assert.Equal("n2", StreamPlacement.Choose(nodes, assigned, new HashSet<SiloAddress>())!.Name);
        Assert.Null(StreamPlacement.Choose(nodes, assigned, new HashSet<SiloAddress> { Silo(2) }));
        assigned[Silo(2)] = 2;
        Assert.Null(StreamPlacement.Choose(nodes, assigned, new HashSet<SiloAddress>()));
    }

    [Theory]
    [InlineData("redis://127.0.0.1:6390", "127.0.0.1:6390")]
    [InlineData("redis://redis", "redis:6379")]
    [InlineData("redis://cache.local:7000/", "cache.local:7000")]
    public void The_cluster_option_takes_redis_host_port(string text, string expected)
    {
        Assert.Equal(expected, ClusterNodeOptions.ParseRedisUri(text, out var error));
        Assert.Null(error);
    }

    [Theory]
    [InlineData("127.0.0.1:6379")]
    [InlineData("http://127.0.0.1:6379")]
    [InlineData("redis://user:pw@127.0.0.1:6379")]
    [InlineData("redis://127.0.0.1:6379/2")]
    [InlineData("redis://")]
    public void Other_forms_are_refused_with_the_expected_form_named(string text)
    {
        Assert.Null(ClusterNodeOptions.ParseRedisUri(text, out var error));
        Assert.Contains("redis://HOST:PORT", error, StringComparison.Ordinal);
    }
}
