using System.Globalization;
using System.Text.Json;
using StreamMtl.Api.V1;
using StreamMtl.Server.Tests.Infrastructure;
using Task = System.Threading.Tasks.Task;

namespace StreamMtl.Server.Tests.Observability;

/// <summary>
/// A real Prometheus (Debian package, 127.0.0.1) scrapes the running service, and every PromQL query of the shipped
/// Grafana dashboard returns data. Also checks the shipped Prometheus config with promtool and the dashboard's shape.
/// </summary>
public sealed class PrometheusDashboardTests
{
    private static string Docker(params string[] parts) => Path.Combine([TestModel.RepoRoot(), "docker", .. parts]);

    public static IReadOnlyList<string> DashboardQueries()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Docker("grafana", "dashboards", "streammtl.json")));
        return doc.RootElement.GetProperty("panels").EnumerateArray()
            .SelectMany(p => p.GetProperty("targets").EnumerateArray())
            .Select(t => t.GetProperty("expr").GetString()!)
            .ToList();
    }

    [Fact]
    public void Dashboard_has_a_fixed_uid_a_stream_variable_and_the_required_panels()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Docker("grafana", "dashboards", "streammtl.json")));
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
    public async Task Shipped_prometheus_config_passes_promtool()
    {
        await using var promtool = ChildProcess.Start("promtool", ["check", "config", Docker("prometheus", "prometheus.yml")]);
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

        string dir = Directory.CreateTempSubdirectory("streammtl-prometheus").FullName;
        int port = FreePort.Next();
        // Same job as the shipped config, pointed at the test's metrics port and scraped every second.
        string shipped = File.ReadAllText(Docker("prometheus", "prometheus.yml"));
        string config = shipped.Replace("scrape_interval: 5s", "scrape_interval: 1s").Replace("streammtl:9464", $"127.0.0.1:{server.MetricsPort}");
        File.WriteAllText(Path.Combine(dir, "prometheus.yml"), config);
        var prometheus = ChildProcess.Start("/usr/bin/prometheus", [
            $"--config.file={Path.Combine(dir, "prometheus.yml")}", $"--storage.tsdb.path={Path.Combine(dir, "data")}",
            $"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"]);
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(10) };
            var queries = DashboardQueries().Select(q => q.Replace("$stream", "cam").Replace("$__rate_interval", "30s")).ToList();
            var missing = queries.ToList();
            await Eventually.UntilAsync(async () =>
            {
                if (prometheus.HasExited)
                {
                    throw new InvalidOperationException("prometheus exited: " + prometheus.Output);
                }
                foreach (var query in missing.ToList())
                {
                    if (await HasData(http, query))
                    {
                        missing.Remove(query);
                    }
                }
                return missing.Count == 0;
            }, TimeSpan.FromSeconds(60), () => "queries without data: " + string.Join(" | ", missing));
        }
        finally
        {
            await prometheus.DisposeAsync();
            cts.Cancel();
            await reader;
            Directory.Delete(dir, recursive: true);
        }
    }

    private static async Task<bool> HasData(HttpClient http, string query)
    {
        try
        {
            string json = await http.GetStringAsync("/api/v1/query?query=" + Uri.EscapeDataString(query));
            using var doc = JsonDocument.Parse(json);
            var data = doc.RootElement.GetProperty("data");
            var result = data.GetProperty("result");
            // Every series must carry a number (histogram_quantile over an empty window is NaN: not data yet).
            return result.GetArrayLength() > 0 && result.EnumerateArray().All(r =>
                double.TryParse(r.GetProperty("value")[1].GetString(), NumberStyles.Float, CultureInfo.InvariantCulture, out double v) && !double.IsNaN(v));
        }
        catch (HttpRequestException)
        {
            return false;
        }
    }
}
