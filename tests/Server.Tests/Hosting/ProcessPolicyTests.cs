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

    private static async Task<string> StartupLog(Dictionary<string, string> env)
    {
        await using var server = ChildProcess.Start(Path.Combine(AppContext.BaseDirectory, "streammtl"), ["serve", "--model", TestModel.Path_,
            "--size", "160x128", "--no-camera", "--address", "127.0.0.1", "--grpc-port", FreePort.Next().ToString(CultureInfo.InvariantCulture),
            "--metrics-port", FreePort.Next().ToString(CultureInfo.InvariantCulture)], env: env);
        await Eventually.UntilAsync(() => server.Output.Contains("OpenMP wait policy", StringComparison.Ordinal) || server.HasExited,
            TimeSpan.FromSeconds(90), () => server.Output);
        return server.Output;
    }
}
