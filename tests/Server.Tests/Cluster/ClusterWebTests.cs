using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Grpc.Core;
using StreamMtl.Api.V1;
using StreamMtl.Server.Tests.Infrastructure;
using Task = System.Threading.Tasks.Task;

namespace StreamMtl.Server.Tests.Cluster;

/// <summary>
/// The web view on a cluster node (a real redis-server, a node on loopback sockets): its add and remove go through the
/// cluster's registry like the gRPC API's, so the browser cannot start a stream the cluster does not know.
/// </summary>
public sealed class ClusterWebTests
{
    [Fact]
    public async Task Web_adds_and_removes_on_a_cluster_node_go_through_the_registry()
    {
        await using var redis = await RedisUnderTest.StartAsync();
        await using var server = await ServerUnderTest.StartOnSocketsAsync(redis.NodeConfig("node-w"));
        using var http = new HttpClient { BaseAddress = new Uri(server.MetricsUrl), Timeout = TimeSpan.FromSeconds(30) };
        http.DefaultRequestHeaders.Add("Origin", server.MetricsUrl);
        var body = new { id = "web1", uri = "synthetic://static?seed=1&w=160&h=128&fps=2", always_on = true };

        // Until the node has reported its capacity the registry has no node to place on (429 "no node has a free stream
        // slot"); retried slowly, under the per-client call rate.
        HttpResponseMessage? added = null;
        string answer = "";
        await Eventually.UntilAsync(async () =>
        {
            added = await http.PostAsJsonAsync("/api/streams", body);
            answer = await added.Content.ReadAsStringAsync();
            if (added.StatusCode == HttpStatusCode.TooManyRequests && answer.Contains("no node has", StringComparison.Ordinal))
            {
                await Task.Delay(500);
                return false;
            }
            return true;
        }, TimeSpan.FromSeconds(60), () => $"never added: {added?.StatusCode} {answer}");
        Assert.True(added!.StatusCode == HttpStatusCode.Created, $"{added.StatusCode} {answer}");
        var info = JsonNode.Parse(answer)!;
        Assert.Equal("node-w", info["node"]?.GetValue<string>());

        // The registry knows it: the cluster-wide list has it, and the registry counted an add.
        var listed = await server.Client.ListStreamsAsync(new ListStreamsRequest());
        Assert.Equal("node-w", Assert.Single(listed.Streams, s => s.Id == "web1").Node);
        Assert.Contains("streammtl_stream_moves_total{reason=\"added\"} 1", await http.GetStringAsync("/metrics"), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Conflict, (await http.PostAsJsonAsync("/api/streams", body)).StatusCode);

        Assert.Equal(HttpStatusCode.NoContent, (await http.DeleteAsync("/api/streams/web1")).StatusCode);
        Assert.Empty((await server.Client.ListStreamsAsync(new ListStreamsRequest())).Streams);
        var gone = await Assert.ThrowsAsync<RpcException>(() => server.Client.GetStreamAsync(new GetStreamRequest { Id = "web1" }).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, gone.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await http.DeleteAsync("/api/streams/web1")).StatusCode);
    }
}
