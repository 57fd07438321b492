using System.Globalization;
using StreamMtl.Ingest.Bench;
using StreamMtl.Ingest.Supervision;
using StreamMtl.Ingest.Tests.Infrastructure;
using Xunit.Abstractions;

namespace StreamMtl.Ingest.Tests.Bench;

/// <summary>
/// Memory soak of a looping file read flat out. The long run is excluded by <c>--filter Category!=Soak</c>; run it with
/// <c>STREAMMTL_SOAK_SECONDS=600 dotnet test tests/Ingest.Tests --filter Category=Soak --logger "console;verbosity=detailed"</c>.
/// </summary>
/// It measures the test host's RSS, so it runs alone: tests running beside it (the renderer's, for one) grow the same RSS.
[Collection(Isolated)]
public sealed class SoakTests(ITestOutputHelper output)
{
    public const string Isolated = "soak (alone in the process)";

    [Fact]
    public async Task Short_soak_keeps_memory_bounded()
    {
        var result = await SoakRunner.RunAsync(Uri(), TimeSpan.FromSeconds(12), TimeSpan.FromSeconds(1));
        output.WriteLine(result.ToString());

        Assert.True(result.Frames > 100, result.ToString());
        Assert.Equal(StreamState.Stopped, result.FinalState);
        Assert.True(result.RssGrowth < 64L << 20, result.ToString());
    }

    [Fact]
    [Trait("Category", "Soak")]
    public async Task Long_soak_keeps_memory_flat()
    {
        var seconds = double.Parse(Environment.GetEnvironmentVariable("STREAMMTL_SOAK_SECONDS") ?? "600", CultureInfo.InvariantCulture);
        var result = await SoakRunner.RunAsync(Uri(), TimeSpan.FromSeconds(seconds),
            onSample: s => output.WriteLine($"{s.Elapsed.TotalSeconds,6:0} s  RSS {s.RssBytes / 1048576.0,7:0.0} MiB  managed {s.ManagedBytes / 1048576.0,6:0.0} MiB  frames {s.Frames}  drops {s.Drops}"));
        output.WriteLine(result.ToString());

        Assert.Equal(StreamState.Stopped, result.FinalState);
        Assert.True(result.RssGrowth < 32L << 20, result.ToString());
    }

    private static string Uri() => TestPaths.Video("vtest.avi") + "#mode=batch&loop=1";
}

[CollectionDefinition(SoakTests.Isolated, DisableParallelization = true)]
public sealed class SoakIsolation;
