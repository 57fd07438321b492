using StreamMtl.Server.Cli;
using StreamMtl.Server.Tests.Infrastructure;

namespace StreamMtl.Server.Tests.Cli;

/// <summary>The parsing layer: generated help lists every command's options, and bad options exit 2 naming the flag.</summary>
public sealed class CommandLineTests
{
    /// <summary>Every command and the options it had before the move to System.CommandLine.</summary>
    public static TheoryData<string, string[]> Commands => new()
    {
        { "serve", ["--source", "--no-camera", "--model", "--adapter", "--size", "--address", "--grpc-port", "--metrics-port", "--api-key", "--threshold"] },
        { "watch", ["--server", "--stream", "--out", "--tasks", "--size", "--frames", "--api-key"] },
        { "train", ["--stage", "--task", "--out", "--init", "--steps", "--sub-steps", "--batch", "--crop", "--lr", "--seed", "--resume", "--split",
            "--blocks", "--dim", "--heads", "--rank", "--head-hidden", "--refine", "--refine-hidden", "--heads-only", "--grow", "--stem", "--temporal",
            "--temporal-gap", "--stability", "--lovasz", "--aux", "--jpeg", "--bf16", "--adapt", "--threads"] },
        { "eval", ["--model", "--adapter", "--baselines", "--json", "--sequences", "--first-seed", "--frames", "--stride", "--size", "--threshold", "--split",
            "--bf16", "--record", "--dump"] },
        { "bench", ["--kind", "--source", "--model", "--size", "--frames", "--truth", "--mode", "--rounds", "--batch", "--threshold", "--budget",
            "--keyframe", "--scene-cut", "--refresh", "--incremental", "--threads", "--bf16", "--sweep", "--thresholds", "--budgets", "--refreshes",
            "--plot", "--json"] },
        { "ingest-bench", ["--source", "--frames"] },
        { "soak", ["--mode", "--seconds", "--every", "--source", "--camera", "--video", "--process-size", "--process-interval", "--csv", "--png",
            "--model", "--size"] },
        { "info", ["--model", "--adapter"] },
        { "average", ["--models", "--out"] },
        { "calibrate", ["--model", "--out", "--first-seed", "--sequences", "--frames", "--stride", "--size", "--max-offset"] },
        { "label", ["--teacher", "--source", "--out", "--every", "--frames", "--size", "--soft", "--device", "--threads"] },
    };

    /// <summary>An integer option of each command that has one.</summary>
    public static TheoryData<string, string> IntegerOptions => new()
    {
        { "serve", "--grpc-port" }, { "watch", "--frames" }, { "train", "--steps" }, { "eval", "--sequences" }, { "bench", "--rounds" },
        { "ingest-bench", "--frames" }, { "soak", "--seconds" }, { "calibrate", "--frames" },
        { "label", "--every" },
    };

    [Theory]
    [MemberData(nameof(Commands))]
    public async Task Help_of_each_command_lists_its_options(string command, string[] options)
    {
        var (code, output, _) = await Run(command, "--help");
        Assert.Equal(0, code);
        Assert.Contains($"streammtl {command} [options]", output, StringComparison.Ordinal);
        foreach (var option in options)
        {
            Assert.Matches($@"\n  {option}\b", output);
        }
    }

    [Fact]
    public async Task Help_of_the_root_lists_every_command_and_the_help_command_too()
    {
        var (code, output, _) = await Run("--help");
        Assert.Equal(0, code);
        foreach (var command in Commands.Select(row => (string)row[0]))
        {
            Assert.Matches($@"\n  {command} ", output);
        }
        var (helpCode, helpOutput, _) = await Run("help");
        Assert.Equal((0, output), (helpCode, helpOutput));
        var (trainCode, trainOutput, _) = await Run("help", "train");
        Assert.Equal(0, trainCode);
        Assert.Contains("--steps <N>", trainOutput, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Notes_follow_the_generated_help_of_serve_and_calibrate()
    {
        Assert.Contains("--StreamMtl:Limits:MaxStreams=4", (await Run("serve", "--help")).Output, StringComparison.Ordinal);
        Assert.Contains("The evaluation set (seeds 1..8 of `streammtl eval`) is refused", (await Run("calibrate", "--help")).Output, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Commands))]
    public async Task An_unknown_flag_exits_2_naming_it(string command, string[] _)
    {
        string error = await Refused(command, "--bogus");
        Assert.Contains("'--bogus'", error, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(IntegerOptions))]
    public async Task A_malformed_integer_exits_2_naming_the_flag(string command, string option) =>
        Assert.Contains($"{option} must be a number, got 'abc'", await Refused(command, option, "abc"), StringComparison.Ordinal);

    [Theory]
    [InlineData("train", "--steps", "0", "--steps must be at least 1, got 0")]
    [InlineData("train", "--lr", "2", "--lr must be between 1E-07 and 1, got 2")]
    [InlineData("train", "--steps", "99999999999", "--steps is out of range: '99999999999'")]
    [InlineData("eval", "--threshold", "NaN", "--threshold must be between 0 and 100, got NaN")]
    [InlineData("serve", "--metrics-port", "70000", "--metrics-port must be between 0 and 65535, got 70000")]
    [InlineData("bench", "--thresholds", "0.1,x", "--thresholds must be a number, got 'x'")]
    [InlineData("bench", "--budgets", ",", "--budgets needs at least one number, got ','")]
    public async Task A_value_out_of_its_range_exits_2_naming_the_flag(string command, string option, string value, string message) =>
        Assert.Contains(message, await Refused(command, option, value), StringComparison.Ordinal);

    [Fact]
    public async Task Unknown_commands_and_stray_arguments_exit_2()
    {
        Assert.Equal(2, (await Run("bogus")).Code);
        Assert.Contains("'stray'", (await Run("train", "stray")).Error, StringComparison.Ordinal);
        Assert.Equal(2, (await Run("help", "bogus")).Code);
        Assert.Contains("--steps", (await Run("train", "--steps")).Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bench_refuses_an_option_its_kind_does_not_read() =>
        Assert.Contains("--rounds does not apply to --kind render", await Refused("bench", "--kind", "render", "--rounds", "3"), StringComparison.Ordinal);

    [Fact]
    public void Serve_hands_configuration_keys_to_the_host_and_keeps_its_own_options()
    {
        var parsed = CommandLine.Parse("serve", "--no-camera", "--StreamMtl:Limits:MaxStreams=4", "--grpc-port", "0", "--Logging:LogLevel:Default=Warning");
        Assert.Equal(new[] { "--StreamMtl:Limits:MaxStreams=4", "--Logging:LogLevel:Default=Warning" }, parsed.UnmatchedTokens);
        Assert.Equal(0, parsed.GetValue(ServeCommand.Options.GrpcPort));
        Assert.True(parsed.GetValue(ServeCommand.Options.NoCamera));
    }

    [Fact]
    public void A_parse_error_for_a_command_body_is_a_cli_exception()
    {
        var error = Assert.Throws<CliException>(() => CommandLine.Parse("train", "--batch", "x"));
        Assert.Equal("--batch must be a number, got 'x'", error.Message);
        Assert.Equal(7, CommandLine.Parse("train", "--steps=7").GetValue(TrainCommand.Options.Steps));
    }

    [Fact]
    public async Task The_built_executable_exits_0_for_help_and_2_for_no_command_or_an_unknown_flag()
    {
        string cli = Path.Combine(AppContext.BaseDirectory, "streammtl");
        foreach (var (args, code) in new (string[], int)[] { (["--help"], 0), (["help"], 0), (["train", "--help"], 0), ([], 2), (["train", "--bogus"], 2) })
        {
            await using var run = ChildProcess.Start(cli, args);
            Assert.True(await run.WaitAsync(TimeSpan.FromSeconds(60)) == code, $"{string.Join(' ', args)}:\n{run.Output}");
            Assert.Contains(code == 0 || args.Length == 0 ? "Usage:" : "'--bogus'", run.Output, StringComparison.Ordinal);
        }
    }

    /// <summary>Runs a command line that must be refused as a usage error (exit 2, the message prefixed with the command); returns stderr.</summary>
    private static async Task<string> Refused(string command, params string[] args)
    {
        var (code, _, error) = await Run([command, .. args]);
        Assert.True(code == 2, error);
        Assert.StartsWith($"streammtl {command}: ", error, StringComparison.Ordinal);
        return error;
    }

    /// <summary>A sweep given only its thresholds runs each with the single budget and refresh (it ran none and crashed).</summary>
    [Fact]
    public async Task A_reuse_sweep_without_budgets_or_refreshes_runs_one_setting_per_threshold()
    {
        string json = Path.Combine(Path.GetTempPath(), $"streammtl-sweep-{Guid.NewGuid():N}.json");
        try
        {
            var (code, _, error) = await Run("bench", "--kind", "reuse", "--sweep", "--thresholds", "0.1,0.2", "--budget", "0.25", "--model", "random",
                "--source", "synthetic://static?seed=1&w=64&h=48&fps=5", "--frames", "5", "--size", "64x48", "--threads", "1", "--json", json);
            Assert.True(code == 0, error);
            using var rows = System.Text.Json.JsonDocument.Parse(File.ReadAllText(json));
            string[] settings = [.. rows.RootElement.EnumerateArray().Select(r => r.GetProperty("Setting").GetString()!)];
            Assert.Equal(2, settings.Length);
            Assert.StartsWith("t=0.1 b=0.25 r=1 ", settings[0], StringComparison.Ordinal);
            Assert.StartsWith("t=0.2 b=0.25 r=1 ", settings[1], StringComparison.Ordinal);
            // Too few frames to time one after the warm-up: refused, not NaN timings in an unwritable report.
            Assert.Contains("--frames must be at least 4 for --kind reuse",
                await Refused("bench", "--kind", "reuse", "--source", "synthetic://static?seed=1&w=64&h=48&fps=5", "--frames", "3"), StringComparison.Ordinal);
            // Compute budgets: in (0, 1], and below 1 only for a model with a policy.
            Assert.Contains("--compute-budgets: compute budget must be a fraction of the dense FLOPs in (0, 1], got 1.5",
                await Refused("bench", "--kind", "reuse", "--source", "synthetic://static?seed=1&w=64&h=48&fps=5", "--compute-budgets", "1,1.5"), StringComparison.Ordinal);
            Assert.Contains("--compute-budgets below 1 need a model with a compute policy",
                await Refused("bench", "--kind", "reuse", "--model", "random", "--source", "synthetic://static?seed=1&w=64&h=48&fps=5",
                    "--size", "64x48", "--frames", "5", "--compute-budgets", "1,0.8"), StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(json);
        }
    }

    private static async Task<(int Code, string Output, string Error)> Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = await CommandLine.RunAsync(args, output, error);
        return (code, output.ToString(), error.ToString());
    }
}
