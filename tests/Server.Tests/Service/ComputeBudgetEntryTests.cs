using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Grpc.Core;
using Microsoft.Extensions.Options;
using StreamMtl.Api.V1;
using StreamMtl.Server.Tests.Infrastructure;
using Task = System.Threading.Tasks.Task;

namespace StreamMtl.Server.Tests.Service;

/// <summary>
/// A stream's compute budget (ReuseSettings.compute_budget) at every entry point: AddStream and Process over a real socket,
/// the web view's add-stream API on the same server, and declared streams in the configuration. The test model has no
/// compute policy, so a budget below 1 is refused for it.
/// </summary>
public sealed class ComputeBudgetEntryTests
{
    private const string Source = "synthetic://static?seed=3&w=160&h=128&fps=5";

    public static TheoryData<double?, double?, string> Invalid => new()
    {
        { 0, null, "compute budget must be a fraction of the dense FLOPs in (0, 1], got 0" },
        { -0.5, null, "compute budget must be a fraction of the dense FLOPs in (0, 1], got -0.5" },
        { 1.5, null, "compute budget must be a fraction of the dense FLOPs in (0, 1], got 1.5" },
        { double.NaN, null, "compute budget must be a fraction of the dense FLOPs in (0, 1], got NaN" },
        { 0.3, null, "compute budget 0.3 is below the compute budget floor 0.4" },
        { 1, 0, "compute budget floor: budget must be a fraction of the dense FLOPs in (0, 1], got 0" },
        { 0.6, null, "compute budget 0.6 needs a model with a compute policy; this model has none" },
    };

    [Theory]
    [MemberData(nameof(Invalid))]
    public async Task Invalid_budgets_are_refused_with_a_specific_error_over_grpc_and_the_web_api(double? budget, double? floor, string expected)
    {
        await using var server = await ServerUnderTest.StartOnSocketsAsync();
        var reuse = new ReuseSettings { ComputeBudget = budget, ComputeBudgetFloor = floor };
        var e = await RpcAssert.Fails(StatusCode.InvalidArgument,
            () => server.Client.AddStreamAsync(new AddStreamRequest { Id = "x", SourceUri = Source, Reuse = reuse }).ResponseAsync);
        Assert.Contains(expected, e.Status.Detail, StringComparison.Ordinal);

        using (var call = server.Client.Process())
        {
            await call.RequestStream.WriteAsync(new ProcessRequest { Config = new ProcessConfig { Reuse = reuse } });
            e = await RpcAssert.Fails(StatusCode.InvalidArgument, () => call.ResponseStream.MoveNext(CancellationToken.None));
            Assert.Contains(expected, e.Status.Detail, StringComparison.Ordinal);
        }

        using var http = new HttpClient { BaseAddress = new Uri(server.MetricsUrl) };
        http.DefaultRequestHeaders.Add("Origin", server.MetricsUrl);
        // The form's JSON: the API message's own JSON form (NaN as the string "NaN").
        var json = new JsonObject();
        if (budget is double b) json["computeBudget"] = double.IsNaN(b) ? JsonValue.Create("NaN") : JsonValue.Create(b);
        if (floor is double f) json["computeBudgetFloor"] = f;
        using var response = await http.PostAsJsonAsync("/api/streams", new JsonObject { ["id"] = "x", ["uri"] = Source, ["reuse"] = json });
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"expected 400, got {response.StatusCode}: {body}");
        Assert.Contains(expected, JsonNode.Parse(body)!["error"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Budget_one_with_full_keyframes_is_accepted_and_each_result_and_the_metrics_say_its_budget()
    {
        await using var server = await ServerUnderTest.StartOnSocketsAsync();
        await server.Client.AddStreamAsync(new AddStreamRequest
        {
            Id = "cam", SourceUri = Source, AlwaysOn = true,
            Reuse = new ReuseSettings { ComputeBudget = 1, ComputeBudgetFloor = 0.5, FullKeyframes = true },
        });
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        using var call = server.Client.Subscribe(new SubscribeRequest { StreamId = "cam" }, cancellationToken: cts.Token);
        var results = await TestResults.TakeAsync(call.ResponseStream, 2, cts.Token);
        Assert.All(results, r =>
        {
            Assert.Equal(1, r.Accounting.ComputeBudget);
            Assert.Equal(1, r.Accounting.UnitFraction);
            Assert.Empty(r.Accounting.SkippedUnits);
        });

        using var http = new HttpClient { BaseAddress = new Uri(server.MetricsUrl) };
        string metrics = await http.GetStringAsync("/metrics");
        Assert.Contains("streammtl_compute_budget{stream=\"cam\"} 1", metrics, StringComparison.Ordinal);
        Assert.Contains("streammtl_compute_budget_changes_total{stream=\"cam\",direction=\"down\"} 0", metrics, StringComparison.Ordinal);
        Assert.Contains("streammtl_compute_budget_changes_total{stream=\"cam\",direction=\"up\"} 0", metrics, StringComparison.Ordinal);
        Assert.Contains("streammtl_units_skipped_total{stream=\"cam\"} 0", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task With_a_policy_a_stream_at_budget_0_6_skips_units_and_says_which()
    {
        await using var server = await ServerUnderTest.StartInProcessAsync(new Dictionary<string, string?> { ["StreamMtl:Model:Path"] = TestModel.WithPolicy });
        await server.Client.AddStreamAsync(new AddStreamRequest
        {
            Id = "cam", SourceUri = Source, AlwaysOn = true, Reuse = new ReuseSettings { ComputeBudget = 0.6 },
        });
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        using var call = server.Client.Subscribe(new SubscribeRequest { StreamId = "cam" }, cancellationToken: cts.Token);
        var results = await TestResults.TakeAsync(call.ResponseStream, 2, cts.Token);
        Assert.All(results, r =>
        {
            Assert.Equal(0.6, r.Accounting.ComputeBudget);
            Assert.NotEmpty(r.Accounting.SkippedUnits);
            Assert.InRange(r.Accounting.UnitFraction, 0, 0.99);
            Assert.All(r.Accounting.SkippedUnits, u => Assert.Matches("^(trunk|depth|normals)\\.[12]$", u));
            Assert.True(r.Accounting.Flops.Sum(f => f.Executed) <= 0.6 * r.Accounting.Flops.Sum(f => f.Dense) + 1,
                "executed FLOPs within the budget");
        });
    }

    [Fact]
    public async Task A_declared_stream_with_a_budget_the_model_cannot_run_fails_the_configuration()
    {
        // serve turns this exception into its exit code 2 (ServiceOptionsTests.Serve_with_an_invalid_configuration_exits_2_listing_the_errors).
        var e = await Assert.ThrowsAsync<OptionsValidationException>(() => ServerUnderTest.StartInProcessAsync(new Dictionary<string, string?>
        {
            ["StreamMtl:StartDeclaredStreams"] = "true",
            ["StreamMtl:Streams:0:Id"] = "camera",
            ["StreamMtl:Streams:0:Source"] = Source,
            ["StreamMtl:Streams:0:Reuse:ComputeBudget"] = "0.6",
        }));
        Assert.Contains(e.Failures, f => f.Contains("compute budget 0.6 needs a model with a compute policy", StringComparison.Ordinal));
    }
}
