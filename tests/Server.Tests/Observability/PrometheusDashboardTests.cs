using Grpc.Core;
using System.Globalization;
using System.Text.Json;
using StreamMtl.Api.V1;
using StreamMtl.Server.Tests.Infrastructure;
using Task = System.Threading.Tasks.Task;

namespace StreamMtl.Server.Tests.Observability;

/// <summary>
/// A real Prometheus (Debian package, 127.0.0.1) scrapes the running service, and every PromQL query of the shipped
/// Grafana dashboard returns data: the service panels from a single node, the "Cluster" row from a cluster node (a
/// real redis-server, Debian package). Also checks the shipped Prometheus configs with promtool and the dashboard's shape.
/// </summary>
public sealed class PrometheusDashboardTests
{
    /// <summary>The title of the dashboard row whose panels need cluster mode (serve --cluster).</summary>
    public const string ClusterRow = "Cluster";

    private static string Docker(params string[] parts) => Path.Combine([TestModel.RepoRoot(), "docker", .. parts]);

    private static JsonDocument Dashboard() => JsonDocument.Parse(File.ReadAllText(Docker("grafana", "dashboards", "streammtl.json")));

    /// <summary>Every query of the dashboard with the title of the row its panel lies under (null above the first row).</summary>
    public static IReadOnlyList<(string? Row, string Query)> DashboardTargets()
    {
        using var doc = Dashboard();
        var targets = new List<(string? Row, string Query)>();
        string? row = null;
        foreach (var panel in doc.RootElement.GetProperty("panels").EnumerateArray())
        {
            if (panel.GetProperty("type").GetString() == "row")
            {
                row = panel.GetProperty("title").GetString();
                // A collapsed row holds its panels itself.
                var inside = panel.TryGetProperty("panels", out var nested) ? nested.EnumerateArray().ToList() : [];
                targets.AddRange(inside.SelectMany(Queries).Select(q => (row, q)));
                continue;
            }
            targets.AddRange(Queries(panel).Select(q => (row, q)));
        }
        return targets;
    }

    private static IEnumerable<string> Queries(JsonElement panel) =>
        panel.GetProperty("targets").EnumerateArray().Select(t => t.GetProperty("expr").GetString()!).ToList();

    public static IReadOnlyList<string> DashboardQueries() => DashboardTargets().Select(t => t.Query).ToList();

    [Fact]
    public void Dashboard_has_a_fixed_uid_a_stream_variable_and_the_required_panels()
    {
        using var doc = Dashboard();
        var root = doc.RootElement;
        Assert.Equal("streammtl-service", root.GetProperty("uid").GetString());
        Assert.Contains(root.GetProperty("templating").GetProperty("list").EnumerateArray(), v => v.GetProperty("name").GetString() == "stream");
        var titles = root.GetProperty("panels").EnumerateArray().Select(p => p.GetProperty("title").GetString()!).ToList();
        foreach (var needed in new[] { "FLOPs saved", "Frames per second", "latency", "Drops", "reconnects" })
        {
            Assert.Contains(titles, t => t.Contains(needed, StringComparison.OrdinalIgnoreCase));
        }
        Assert.All(DashboardQueries(), q => Assert.DoesNotContain("[1m]", q));
    }

    [Fact]
    public void Dashboard_has_a_node_variable_and_a_cluster_row_with_nodes_streams_per_node_and_moves_by_reason()
    {
        using var doc = Dashboard();
        var root = doc.RootElement;
        var node = Assert.Single(root.GetProperty("templating").GetProperty("list").EnumerateArray(), v => v.GetProperty("name").GetString() == "node");
        Assert.Equal("label_values(streammtl_cluster_node_streams, node)", node.GetProperty("definition").GetString());
        Assert.True(node.GetProperty("includeAll").GetBoolean());
        var panels = root.GetProperty("panels").EnumerateArray().ToList();
        var row = Assert.Single(panels, p => p.GetProperty("type").GetString() == "row" && p.GetProperty("title").GetString() == ClusterRow);
        // The row starts below every service panel (Grafana files the panels after a row under it).
        int rowY = row.GetProperty("gridPos").GetProperty("y").GetInt32();
        Assert.All(panels.TakeWhile(p => p.GetProperty("type").GetString() != "row"), p =>
            Assert.True(p.GetProperty("gridPos").GetProperty("y").GetInt32() < rowY, p.GetProperty("title").GetString()));
        var cluster = DashboardTargets().Where(t => t.Row == ClusterRow).Select(t => t.Query).ToList();
        Assert.Equal(
            [
                "max(streammtl_cluster_nodes)",
                "sum by (node) (streammtl_cluster_node_streams{node=~\"$node\"})",
                "sum by (reason) (increase(streammtl_stream_moves_total[5m]))",
            ], cluster);
        Assert.Equal(panels.Count, panels.Select(p => p.GetProperty("id").GetInt32()).Distinct().Count());
    }

    [Theory]
    [InlineData("prometheus.yml")]
    [InlineData("prometheus.cluster.yml")]
    public async Task Shipped_prometheus_config_passes_promtool(string file)
    {
        await using var promtool = ChildProcess.Start("promtool", ["check", "config", Docker("prometheus", file)]);
        Assert.True(await promtool.WaitAsync(TimeSpan.FromSeconds(30)) == 0, promtool.Output);
    }

    [Fact]
    public async Task Prometheus_scrapes_the_service_and_every_dashboard_query_returns_data()
    {
        await using var server = await ServerUnderTest.StartOnSocketsAsync();
        await server.AddSyntheticAsync("cam", alwaysOn: true);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        // A subscriber, so results (and end-to-end latency) flow.
        using var subscription = server.Client.Subscribe(new SubscribeRequest { StreamId = "cam" }, cancellationToken: cts.Token);
        var reader = Task.Run(async () =>
        {
            try
            {
                while (await subscription.ResponseStream.MoveNext(cts.Token))
                {
                }
            }
            catch (Exception)
            {
            }
        });
        try
        {
            // A single node: the cluster row has no data by design (its own test below runs a cluster node).
            var queries = DashboardTargets().Where(t => t.Row != ClusterRow)
                .Select(t => t.Query.Replace("$stream", "cam").Replace("$__rate_interval", "30s")).ToList();
            await using var prometheus = PrometheusUnderTest.Start(server.MetricsPort);
            await prometheus.UntilEveryQueryHasDataAsync(queries);
        }
        finally
        {
            cts.Cancel();
            await reader;
        }
    }

    [Fact]
    public async Task Prometheus_scrapes_a_cluster_node_and_every_cluster_panel_query_returns_its_values()
    {
        await using var redis = await RedisUnderTest.StartAsync();
        await using var server = await ServerUnderTest.StartOnSocketsAsync(redis.NodeConfig("node-a"));
        // Until the node's first report reaches the registry no node has a slot (RESOURCE_EXHAUSTED, "0 node(s)"): a CI run
        // on a loaded machine added the stream that early. Ask again until the registry knows the node.
        await Eventually.UntilAsync(async () =>
        {
            try
            {
                await server.AddSyntheticAsync("cam", alwaysOn: true);
                return true;
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.ResourceExhausted && e.Status.Detail.Contains("0 node(s)", StringComparison.Ordinal))
            {
                return false;
            }
        }, TimeSpan.FromSeconds(30), () => "the registry never saw the node");

        var queries = DashboardTargets().Where(t => t.Row == ClusterRow).Select(t => t.Query.Replace("$node", "node-a")).ToList();
        Assert.Equal(3, queries.Count);
        await using var prometheus = PrometheusUnderTest.Start(server.MetricsPort);
        await prometheus.UntilEveryQueryHasDataAsync(queries);
        // One node, running the one stream, which the registry placed as "added".
        string? seen = null;
        await Eventually.UntilAsync(async () =>
        {
            var nodes = await prometheus.QueryAsync(queries[0]);
            var perNode = await prometheus.QueryAsync(queries[1]);
            var moves = await prometheus.QueryAsync(queries[2]);
            seen = $"nodes {Describe(nodes)}; streams per node {Describe(perNode)}; moves {Describe(moves)}";
            return nodes is [{ Value: 1 }]
                && perNode is [{ Value: 1 } one] && one.Labels.GetValueOrDefault("node") == "node-a"
                && moves is not null && moves.Any(m => m.Labels.GetValueOrDefault("reason") == "added");
        }, TimeSpan.FromSeconds(60), () => seen ?? "no answer");
    }

    private static string Describe(IReadOnlyList<Series>? series) =>
        series is null ? "none" : "[" + string.Join(", ", series.Select(s => $"{{{string.Join(",", s.Labels.Select(l => $"{l.Key}={l.Value}"))}}} {s.Value}")) + "]";

    /// <summary>One series of an instant query's answer.</summary>
    private sealed record Series(IReadOnlyDictionary<string, string> Labels, double Value);

    /// <summary>A real Prometheus running the shipped job (docker/prometheus/prometheus.yml), pointed at the test's metrics port and scraping every second.</summary>
    private sealed class PrometheusUnderTest : IAsyncDisposable
    {
        private readonly ChildProcess _process;
        private readonly string _dir;
        private readonly HttpClient _http;

        private PrometheusUnderTest(ChildProcess process, string dir, int port)
        {
            _process = process;
            _dir = dir;
            _http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(10) };
        }

        public static PrometheusUnderTest Start(int metricsPort)
        {
            string dir = Directory.CreateTempSubdirectory("streammtl-prometheus").FullName;
            int port = FreePort.Next();
            string shipped = File.ReadAllText(Docker("prometheus", "prometheus.yml"));
            string config = shipped.Replace("scrape_interval: 5s", "scrape_interval: 1s").Replace("streammtl:9464", $"127.0.0.1:{metricsPort}");
            File.WriteAllText(Path.Combine(dir, "prometheus.yml"), config);
            var process = ChildProcess.Start("/usr/bin/prometheus", [
                $"--config.file={Path.Combine(dir, "prometheus.yml")}", $"--storage.tsdb.path={Path.Combine(dir, "data")}",
                $"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"]);
            return new PrometheusUnderTest(process, dir, port);
        }

        public async Task UntilEveryQueryHasDataAsync(IReadOnlyList<string> queries)
        {
            var missing = queries.ToList();
            await Eventually.UntilAsync(async () =>
            {
                foreach (var query in missing.ToList())
                {
                    // Every series must carry a number (histogram_quantile over an empty window is NaN: not data yet).
                    if (await QueryAsync(query) is { Count: > 0 } series && series.All(s => !double.IsNaN(s.Value)))
                    {
                        missing.Remove(query);
                    }
                }
                return missing.Count == 0;
            }, TimeSpan.FromSeconds(60), () => "queries without data: " + string.Join(" | ", missing));
        }

        /// <summary>The instant query's series; null while Prometheus does not answer yet.</summary>
        public async Task<IReadOnlyList<Series>?> QueryAsync(string query)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException("prometheus exited: " + _process.Output);
            }
            try
            {
                string json = await _http.GetStringAsync("/api/v1/query?query=" + Uri.EscapeDataString(query));
                using var doc = JsonDocument.Parse(json);
                return doc.RootElement.GetProperty("data").GetProperty("result").EnumerateArray().Select(r => new Series(
                    r.GetProperty("metric").EnumerateObject().ToDictionary(l => l.Name, l => l.Value.GetString()!),
                    double.TryParse(r.GetProperty("value")[1].GetString(), NumberStyles.Float, CultureInfo.InvariantCulture, out double v) ? v : double.NaN))
                    .ToList();
            }
            catch (HttpRequestException)
            {
                return null;
            }
        }

        public async ValueTask DisposeAsync()
        {
            _http.Dispose();
            await _process.DisposeAsync();
            Directory.Delete(_dir, recursive: true);
        }
    }
}
