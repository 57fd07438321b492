using System.Globalization;
using StreamMtl.Server.Tests.Infrastructure;

namespace StreamMtl.Server.Tests.Hosting;

/// <summary>
/// The service sets libtorch's OpenMP wait policy itself (passive: no spinning threads fighting CPU-bound neighbours),
/// before libtorch loads, and keeps an operator's own choice. Read from the service's startup log line, which reports
/// what the C library's environment holds, the value OpenMP reads.
/// </summary>
public sealed class OpenMpPolicyTests
{
    [Theory]
    [InlineData("", "PASSIVE")]
    [InlineData("ACTIVE", "ACTIVE")]
    public async Task The_service_waits_passively_unless_the_operator_chose_otherwise(string environment, string expected)
    {
        await using var server = ChildProcess.Start(Path.Combine(AppContext.BaseDirectory, "streammtl"), ["serve", "--model", TestModel.Path_,
            "--size", "160x128", "--no-camera", "--address", "127.0.0.1", "--grpc-port", FreePort.Next().ToString(CultureInfo.InvariantCulture),
            "--metrics-port", FreePort.Next().ToString(CultureInfo.InvariantCulture)], env: new Dictionary<string, string> { ["OMP_WAIT_POLICY"] = environment });
        await Eventually.UntilAsync(() => server.Output.Contains("OpenMP wait policy", StringComparison.Ordinal) || server.HasExited,
            TimeSpan.FromSeconds(90), () => server.Output);
        Assert.Contains($"OpenMP wait policy {expected}", server.Output, StringComparison.Ordinal);
    }
}
