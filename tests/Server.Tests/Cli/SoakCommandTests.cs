using System.Globalization;
using System.Text.RegularExpressions;
using OpenCvSharp;
using StreamMtl.Server.Cli;
using StreamMtl.Server.Tests.Infrastructure;
using Xunit.Abstractions;

namespace StreamMtl.Server.Tests.Cli;

/// <summary>
/// streammtl soak in service mode, CI-sized: the mechanics (the service runs as a child process and is gone afterwards, samples
/// are taken, the CSV and the chart are written, the subscribers and the Process client get results), not issue 21's memory
/// bars, which need the hour-long run of scripts/soak.sh.
/// </summary>
public sealed partial class SoakCommandTests(ITestOutputHelper log) : IDisposable
{
    private readonly TempDirectory _dir = new();

    /// <summary>The tiny model on one thread, smaller Process frames than the default, sampled often.</summary>
    private string[] Arguments(int seconds) =>
    [
        "soak", "--seconds", seconds.ToString(CultureInfo.InvariantCulture), "--every", "2", "--model", TestModel.Path_, "--size", "160x128",
        "--video", RepositoryFiles.SharedVideo("vtest.avi"), "--process-size", "1280x720", "--process-interval", "200",
        "--csv", _dir.File("soak.csv"), "--png", _dir.File("soak.png"), "--StreamMtl:Model:Threads=1",
    ];

    [Fact]
    public async Task A_short_service_soak_samples_the_service_draws_the_chart_and_leaves_no_process()
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = await Eventually.Within(CommandLine.RunAsync(Arguments(36), output, error), TimeSpan.FromMinutes(4));
        string text = output + error.ToString();
        log.WriteLine(text);
        // The bars are not this test's business; a run that could not be judged or crashed is.
        Assert.True(code is 0 or 1, $"exit code {code}:\n{text}");
        Assert.Matches(@"\n(PASS|FAIL): ", text);
        AssertGone(ServicePid(text), text);

        string[] rows = File.ReadAllLines(_dir.File("soak.csv"));
        Assert.Equal("seconds,rss_mib,fds,threads,frames_camera,frames_video,process_replies", rows[0]);
        Assert.True(rows.Length - 1 >= 12, $"{rows.Length - 1} samples in 36 s at one per 2 s:\n{text}");
        double[] last = [.. rows[^1].Split(',').Select(v => double.Parse(v, CultureInfo.InvariantCulture))];
        Assert.True(last[1] > 50 && last[2] > 10 && last[3] > 5, $"RSS, descriptors and threads of a running service: {rows[^1]}");
        Assert.True(last[4] > 0 && last[5] > 0, $"both subscribers received results: {rows[^1]}\n{text}");
        Assert.True(last[6] > 0, $"the Process client received results: {rows[^1]}\n{text}");
        Assert.Contains("0 failed calls", text, StringComparison.Ordinal);

        using var chart = Cv2.ImRead(_dir.File("soak.png"));
        Assert.False(chart.Empty(), "the chart is not a readable PNG");
        Assert.Equal((1000, 780), (chart.Width, chart.Height));
    }

    [Fact]
    public async Task Ctrl_C_stops_the_soak_kills_the_service_and_still_writes_the_samples()
    {
        string cli = Path.Combine(AppContext.BaseDirectory, "streammtl");
        // `env --default-signal=INT`: see TrainCommandTests (a background job inherits SIGINT ignored).
        await using var soak = ChildProcess.Start("env", ["--default-signal=INT", cli, .. Arguments(600)]);
        await Eventually.UntilAsync(() => soak.Output.Contains(" rss=", StringComparison.Ordinal) || soak.HasExited, TimeSpan.FromMinutes(2), () => soak.Output);
        Assert.False(soak.HasExited, soak.Output);
        int pid = ServicePid(soak.Output);
        soak.Signal(2);
        int code = await soak.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.True(code == TrainCommand.Interrupted, $"exit code {code}:\n{soak.Output}");
        Assert.Contains("interrupted after", soak.Output, StringComparison.Ordinal);
        AssertGone(pid, soak.Output);
        Assert.True(File.ReadAllLines(_dir.File("soak.csv")).Length >= 2, soak.Output);
    }

    private static int ServicePid(string output)
    {
        var match = ServicePidLine().Match(output);
        Assert.True(match.Success, output);
        return int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
    }

    /// <summary>No process <paramref name="pid"/>, or a different program that took the number since.</summary>
    private static void AssertGone(int pid, string output)
    {
        string cmdline = $"/proc/{pid}/cmdline";
        Assert.False(File.Exists(cmdline) && File.ReadAllText(cmdline).Contains("streammtl.dll", StringComparison.Ordinal),
            $"the service (pid {pid}) outlived the soak:\n{output}");
    }

    [GeneratedRegex(@"soak: service pid (\d+) listening")]
    private static partial Regex ServicePidLine();

    public void Dispose() => _dir.Dispose();
}
