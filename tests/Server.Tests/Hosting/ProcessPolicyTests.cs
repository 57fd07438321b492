using System.Globalization;
using StreamMtl.Server.Tests.Infrastructure;

namespace StreamMtl.Server.Tests.Hosting;

/// <summary>
/// The service sets libtorch's OpenMP wait policy (passive: no spinning threads fighting CPU-bound neighbours) and the C
/// heap's thresholds (frame-sized tensors stay mapped between frames) itself, at start, and keeps an operator's own
/// choice. Read from the service's startup log line, which reports what the C library's environment holds (the value
/// OpenMP reads) and what mallopt accepted.
/// </summary>
public sealed class ProcessPolicyTests
{
    [Theory]
    [InlineData("", "PASSIVE")]
    [InlineData("ACTIVE", "ACTIVE")]
    public async Task The_service_waits_passively_unless_the_operator_chose_otherwise(string environment, string expected)
    {
        string output = await StartupLog(new Dictionary<string, string> { ["OMP_WAIT_POLICY"] = environment });
        Assert.Contains($"OpenMP wait policy {expected}", output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("", "native heap: glibc mmap threshold 32 MB, trim threshold 256 MB")]
    [InlineData("1048576", "native heap: MALLOC_TRIM_THRESHOLD_ set by the operator: unchanged")]
    public async Task The_service_keeps_its_heap_mapped_unless_the_operator_tuned_it(string environment, string expected)
    {
        string output = await StartupLog(new Dictionary<string, string> { ["MALLOC_TRIM_THRESHOLD_"] = environment });
        Assert.Contains(expected, output, StringComparison.Ordinal);
    }

    /// <summary>One intra-op thread per worker (the default): a gated frame's row products run on packed weights, unless
    /// the operator turned them off.</summary>
    [Theory]
    [InlineData(null, "row products: packed weights, AVX2/FMA kernel")]
    [InlineData("false", "row products: libtorch (Model:PackedProducts=false)")]
    public async Task The_service_runs_row_products_on_packed_weights_unless_turned_off(string? setting, string expected)
    {
        if (setting is null && !StreamMtl.Pipeline.Model.PackedLinear.Supported)
        {
            expected = "row products: libtorch (this CPU has no AVX2 and FMA)";
        }
        string output = await StartupLog([], setting is null ? [] : [$"--StreamMtl:Model:PackedProducts={setting}"]);
        Assert.Contains(expected, output, StringComparison.Ordinal);
    }

    private static async Task<string> StartupLog(Dictionary<string, string> env, string[]? extra = null)
    {
        await using var server = ChildProcess.Start(Path.Combine(AppContext.BaseDirectory, "streammtl"), ["serve", "--model", TestModel.Path_,
            "--size", "160x128", "--no-camera", "--address", "127.0.0.1", "--grpc-port", FreePort.Next().ToString(CultureInfo.InvariantCulture),
            "--metrics-port", FreePort.Next().ToString(CultureInfo.InvariantCulture), .. extra ?? []], env: env);
        await Eventually.UntilAsync(() => server.Output.Contains("OpenMP wait policy", StringComparison.Ordinal) || server.HasExited,
            TimeSpan.FromSeconds(90), () => server.Output);
        return server.Output;
    }
}
