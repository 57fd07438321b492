using System.Text.Json;
using StreamMtl.Server.Capacity;
using StreamMtl.Server.Cli;
using StreamMtl.Server.Tests.Infrastructure;
using Xunit.Abstractions;

namespace StreamMtl.Server.Tests.Capacity;

/// <summary>
/// streammtl bench --kind streams, CI-sized: the mechanics on the real service (a child serve, a subscriber per stream, the
/// figures read back from it), not issue 22's capacity bars, which are benchmark figures (docs/service.md, Capacity).
/// </summary>
public sealed class StreamsBenchTests(ITestOutputHelper log) : IDisposable
{
    private readonly TempDirectory _dir = new();

    [Fact]
    public async Task Two_streams_through_the_real_service_report_rates_drop_reasons_keyframes_latency_and_cpu()
    {
        string json = _dir.File("streams.json");
        var output = new StringWriter();
        var error = new StringWriter();
        int code = await Eventually.Within(CommandLine.RunAsync(
        [
            "bench", "--kind", "streams", "--source", "synthetic://moving?seed=3&w=160&h=128&fps=4", "--streams", "2", "--warmup", "3",
            "--seconds", "6", "--model", TestModel.Path_, "--size", "160x128", "--threads", "1", "--json", json, "--score-truth",
        ], output, error), TimeSpan.FromMinutes(3));
        log.WriteLine(output + error.ToString());
        Assert.True(code == 0, $"exit code {code}: {error}");

        var runs = JsonSerializer.Deserialize<List<StreamsRun>>(File.ReadAllText(json))!;
        var run = Assert.Single(runs);
        Assert.Equal(2, run.StreamCount);
        Assert.Equal(4, run.NominalFps);
        Assert.InRange(run.Seconds, 5.5, 30);
        Assert.True(run.CpuCores > 0, "the service used CPU time");
        Assert.Equal(["s0", "s1"], run.Streams.Select(s => s.Id));
        foreach (var s in run.Streams)
        {
            Assert.True(s.SourceFps > 0 && s.ProcessedFps > 0 && s.ReceivedFps > 0, $"{s.Id}: {s}");
            Assert.Equal(s.ProcessedFps / 4, s.Sustained, 6);
            Assert.True(s.InferenceMs.Count > 0 && s.InferenceMs.P50 > 0 && s.InferenceMs.P99 >= s.InferenceMs.P50, $"{s.Id}: {s.InferenceMs}");
            Assert.True(s.EndToEndMs.Count > 0 && s.EndToEndMs.P50 >= s.InferenceMs.P50, $"capture to receipt includes inference: {s}");
            Assert.InRange(s.KeyframeShare, 0, 1);
            // Every reason the service counts is reported, zero or not.
            Assert.Contains("inference_busy", s.Drops.Keys);
            Assert.All(s.Drops.Values, v => Assert.True(v >= 0));
            // --score-truth: every result received in the window scored against the synthetic camera's truth.
            var d = s.Delivered ?? throw new Xunit.Sdk.XunitException($"{s.Id}: not scored");
            Assert.Equal(Math.Round(s.ReceivedFps * run.Seconds), d.Results);
            Assert.True(d.Frames >= d.Results, $"{s.Id}: {d}");
            Assert.InRange(d.Processed.SegmentationMIoU, 0, 1);
            Assert.True(d.Processed.DepthAbsRel >= 0 && d.Shown.DepthAbsRel >= 0, $"{s.Id}: {d}");
            Assert.InRange(d.Processed.NormalsMeanDeg, 0, 180);
        }
    }

    [Theory]
    [InlineData("--neighbour", "sometimes", "--neighbour must be off, on or both")]
    [InlineData("--sweep", null, "--sweep does not apply to --kind streams")]
    [InlineData("--score-truth", "--skip-unchanged", "--skip-unchanged sends some without data")]
    public async Task Bad_options_are_refused_by_name(string option, string? value, string message)
    {
        var error = new StringWriter();
        string[] args = ["bench", "--kind", "streams", "--source", "synthetic://static", option, .. value is null ? Array.Empty<string>() : [value]];
        int code = await CommandLine.RunAsync(args, new StringWriter(), error);
        Assert.NotEqual(0, code);
        Assert.Contains(message, error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Scoring_needs_a_synthetic_source()
    {
        var error = new StringWriter();
        Assert.NotEqual(0, await CommandLine.RunAsync(["bench", "--kind", "streams", "--source", "../shared/videos/vtest.avi", "--score-truth"],
            new StringWriter(), error));
        Assert.Contains("--score-truth needs a synthetic:// source", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_source_is_required()
    {
        var error = new StringWriter();
        Assert.NotEqual(0, await CommandLine.RunAsync(["bench", "--kind", "streams"], new StringWriter(), error));
        Assert.Contains("--source URI is required for --kind streams", error.ToString(), StringComparison.Ordinal);
    }

    public void Dispose() => _dir.Dispose();
}
