using Microsoft.Extensions.Configuration;
using StreamMtl.Server.Configuration;
using StreamMtl.Server.Tests.Infrastructure;

namespace StreamMtl.Server.Tests.Configuration;

public sealed class ServiceOptionsTests
{
    [Fact]
    public void Shipped_appsettings_bind_and_validate()
    {
        var config = new ConfigurationBuilder().AddJsonFile(Path.Combine(AppContext.BaseDirectory, "appsettings.json")).Build();
        var options = StrictBinding.Read(config);
        Assert.Empty(options.Validate());
        var camera = Assert.Single(options.Streams);
        Assert.Equal("camera", camera.Id);
        Assert.StartsWith("synthetic://", camera.Source);
        Assert.Equal(50051, options.Endpoints.GrpcPort);
        Assert.Equal(9464, options.Endpoints.MetricsPort);
    }

    /// <summary>
    /// A misspelt key, a value of the wrong type and a declared stream with either stop startup naming the key: before, the
    /// first was ignored, the second an unhandled exception, and the stream silently dropped by the binder (never started).
    /// </summary>
    [Theory]
    [InlineData("StreamMtl:Pipeline:Reuse:Treshold", "0.3", "not found on the instance of StreamMtl.Pipeline.Inference.PipelineOptions: 'Reuse'")]
    [InlineData("StreamMtl:Limits:MaxStreams", "abc", "'abc' at 'StreamMtl:Limits:MaxStreams' to type 'System.Int32'")]
    [InlineData("StreamMtl:Streams:0:Reuse:Threshold", "abc", "'abc' at 'StreamMtl:Streams:0:Reuse:Threshold' to type 'System.Single'")]
    [InlineData("StreamMtl:Streams:0:Reuse:Adaptive", "maybe", "'maybe' at 'StreamMtl:Streams:0:Reuse:Adaptive' to type 'System.Boolean'")]
    [InlineData("StreamMtl:Streams:0:Reuse:Levle", "Minimal", "not found on the instance of StreamMtl.Pipeline.Model.ReuseSettings: 'Levle'")]
    public void A_key_no_option_has_or_a_value_of_the_wrong_type_is_refused_naming_it(string key, string value, string message)
    {
        var config = new ConfigurationBuilder().AddJsonFile(Path.Combine(AppContext.BaseDirectory, "appsettings.json"))
            .AddInMemoryCollection(new Dictionary<string, string?> { [key] = value }).Build();
        var e = Assert.Throws<Microsoft.Extensions.Options.OptionsValidationException>(() => StrictBinding.Read(config));
        var failure = Assert.Single(e.Failures);
        Assert.Contains(message, failure, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_problem_is_listed_at_once()
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["StreamMtl:Model:InputWidth"] = "100",
            ["StreamMtl:Endpoints:GrpcPort"] = "9464",
            ["StreamMtl:Limits:MaxStreams"] = "0",
            ["StreamMtl:Pipeline:BatchSize"] = "0",
            ["StreamMtl:Pipeline:HelperNice"] = "20",
            ["StreamMtl:Security:ApiKeys:0"] = "short",
            ["StreamMtl:Streams:0:Id"] = "bad id",
            ["StreamMtl:Streams:0:Source"] = "",
            ["StreamMtl:Streams:0:Tasks:0"] = "colour",
            ["StreamMtl:Streams:0:Reuse:Budget"] = "2",
            ["StreamMtl:Streams:0:Reconnect:StallTimeout"] = "00:00:00.01",
            ["StreamMtl:Limits:CallsPerSecondPerClient"] = "0",
            ["StreamMtl:Model:Precision"] = "fp8",
        }).Build();
        var errors = config.GetSection(ServiceOptions.Section).Get<ServiceOptions>()!.Validate();
        foreach (var expected in new[] { "InputWidth", "GrpcPort and MetricsPort", "MaxStreams", "BatchSize", "HelperNice must be in 0..19", "ApiKeys", "Id 'bad id'", "Source is required",
            "unknown task 'colour'", "budget", "Precision must be float32 or bfloat16, got 'fp8'", "Reconnect: StallTimeout must be within",
            "CallsPerSecondPerClient" })
        {
            Assert.Contains(errors, e => e.Contains(expected, StringComparison.OrdinalIgnoreCase));
        }
    }

    [Fact]
    public void Compute_levels_and_the_controller_are_validated_from_configuration()
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["StreamMtl:Streams:0:Id"] = "a",
            ["StreamMtl:Streams:0:Source"] = "synthetic://static",
            ["StreamMtl:Streams:0:Reuse:Adaptive"] = "true",
            ["StreamMtl:Streams:0:Reuse:Level"] = "Minimal",
            ["StreamMtl:Streams:0:Reuse:Floor"] = "Reduced",
            ["StreamMtl:Streams:1:Id"] = "b",
            ["StreamMtl:Streams:1:Source"] = "synthetic://static",
            ["StreamMtl:Streams:1:Reuse:Level"] = "7",
            ["StreamMtl:Streams:2:Id"] = "c",
            ["StreamMtl:Streams:2:Source"] = "synthetic://static",
            ["StreamMtl:Streams:2:Reuse:Adaptive"] = "true",
            ["StreamMtl:Streams:2:Reuse:Floor"] = "reduced",
            ["StreamMtl:Pipeline:Controller:Window"] = "00:00:00",
        }).Build();
        var options = config.GetSection(ServiceOptions.Section).Get<ServiceOptions>()!;
        var errors = options.Validate();
        Assert.Contains(errors, e => e.Contains("Reuse: floor (reduced) must not be above level (minimal)", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("Reuse: level must be full, reduced, minimal, lean or coarse, got 7", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Contains("Controller: controller window must be > 0", StringComparison.Ordinal));
        Assert.Equal(2, errors.Count(e => e.Contains("Reuse:", StringComparison.Ordinal)));
        Assert.True(options.Streams[2].Reuse.Adaptive);
        Assert.Equal(StreamMtl.Pipeline.Model.ComputeLevel.Reduced, options.Streams[2].Reuse.Floor);
    }

    [Fact]
    public void Compute_budgets_and_the_budget_step_are_validated_from_configuration()
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["StreamMtl:Streams:0:Id"] = "a",
            ["StreamMtl:Streams:0:Source"] = "synthetic://static",
            ["StreamMtl:Streams:0:Reuse:ComputeBudget"] = "1.5",
            ["StreamMtl:Streams:1:Id"] = "b",
            ["StreamMtl:Streams:1:Source"] = "synthetic://static",
            ["StreamMtl:Streams:1:Reuse:ComputeBudget"] = "NaN",
            ["StreamMtl:Streams:2:Id"] = "c",
            ["StreamMtl:Streams:2:Source"] = "synthetic://static",
            ["StreamMtl:Streams:2:Reuse:ComputeBudget"] = "0.3",
            ["StreamMtl:Streams:3:Id"] = "d",
            ["StreamMtl:Streams:3:Source"] = "synthetic://static",
            ["StreamMtl:Streams:3:Reuse:ComputeBudget"] = "0.6",
            ["StreamMtl:Streams:3:Reuse:FullKeyframes"] = "true",
            ["StreamMtl:Pipeline:Controller:BudgetStep"] = "0",
        }).Build();
        var options = config.GetSection(ServiceOptions.Section).Get<ServiceOptions>()!;
        var errors = options.Validate();
        Assert.Contains("Streams[0]: Reuse: compute budget must be a fraction of the dense FLOPs in (0, 1], got 1.5", errors);
        Assert.Contains("Streams[1]: Reuse: compute budget must be a fraction of the dense FLOPs in (0, 1], got NaN", errors);
        Assert.Contains("Streams[2]: Reuse: compute budget 0.3 is below the compute budget floor 0.4", errors);
        Assert.Contains(errors, e => e.Contains("Controller: controller budget step must be in (0, 1), got 0", StringComparison.Ordinal));
        Assert.DoesNotContain(errors, e => e.StartsWith("Streams[3]", StringComparison.Ordinal));
        Assert.Equal((0.6, true), (options.Streams[3].Reuse.ComputeBudget, options.Streams[3].Reuse.FullKeyframes));
    }

    [Fact]
    public async Task Serve_with_an_invalid_configuration_exits_2_listing_the_errors()
    {
        var stderr = new StringWriter();
        var original = Console.Error;
        Console.SetError(stderr);
        try
        {
            int code = await StreamMtl.Server.Cli.CommandLine.RunAsync(["serve", "--model", TestModel.Path_, "--no-camera",
                "--StreamMtl:Limits:MaxStreams=0", "--StreamMtl:Pipeline:BatchSize=0", "--grpc-port", "0", "--metrics-port", "0"]);
            Assert.Equal(2, code);
        }
        finally
        {
            Console.SetError(original);
        }
        Assert.Contains("MaxStreams", stderr.ToString());
        Assert.Contains("BatchSize", stderr.ToString());
    }
}
