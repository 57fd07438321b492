using System.Text.Json;
using System.Text.RegularExpressions;
using StreamMtl.Pipeline.Weights;
using StreamMtl.Server.Cli;
using StreamMtl.Server.Tests.Infrastructure;

namespace StreamMtl.Server.Tests.Cli;

/// <summary>The real `streammtl train` process: a signal stops it with a checkpoint that --resume continues.</summary>
public sealed partial class TrainCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("streammtl-train-cli-").FullName;

    private static readonly string[] TinyModel = ["--stage", "base", "--threads", "1", "--blocks", "1", "--dim", "16", "--heads", "1",
        "--rank", "2", "--head-hidden", "8", "--split", "0", "--crop", "2x3", "--batch", "2"];

    [Theory]
    [InlineData(2, "SIGINT")]
    [InlineData(15, "SIGTERM")]
    public async Task A_signal_stops_training_with_a_checkpoint_that_resume_continues(int signal, string name)
    {
        string output = Path.Combine(_dir, "model.safetensors");
        string cli = Path.Combine(AppContext.BaseDirectory, "streammtl");
        // Through `env --default-signal=INT`: a shell starts background jobs (`scripts/test.sh &`) with SIGINT ignored,
        // children inherit that, and .NET then leaves SIGINT ignored, as a background job should. The test asks what
        // the command does with the signal, so the child gets the default disposition whatever started the suite.
        await using (var train = ChildProcess.Start("env", ["--default-signal=INT", cli, "train", .. TinyModel, "--steps", "1000000", "--out", output]))
        {
            await Eventually.UntilAsync(() => train.Output.Contains("training Base", StringComparison.Ordinal) || train.HasExited,
                TimeSpan.FromSeconds(60), () => train.Output);
            Assert.False(train.HasExited, train.Output);
            await Task.Delay(TimeSpan.FromSeconds(3));
            train.Signal(signal);
            int code = await train.WaitAsync(TimeSpan.FromSeconds(60));
            Assert.True(code == 130, $"{name}: exit code {code}\n{train.Output}");
            var stopped = StoppedAt().Match(train.Output);
            Assert.True(stopped.Success, train.Output);
            int step = int.Parse(stopped.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
            Assert.False(File.Exists(output), "an interrupted run must not write the finished model");
            Assert.True(File.Exists(output + ".ckpt") && File.Exists(output + ".ckpt.optim"), train.Output);
            using var state = JsonDocument.Parse(File.ReadAllText(output + ".ckpt.json"));
            Assert.Equal(step, state.RootElement.GetProperty("Step").GetInt32());

            await using var resume = ChildProcess.Start(cli, ["train", .. TinyModel, "--steps", $"{step + 3}", "--out", output, "--resume"]);
            Assert.Equal(0, await resume.WaitAsync(TimeSpan.FromSeconds(120)));
            Assert.Contains($"done: {step + 3} steps", resume.Output, StringComparison.Ordinal);
            Assert.True(File.Exists(output), resume.Output);
            Assert.False(File.Exists(output + ".ckpt"), "the checkpoint is removed once the run completes");
        }
    }

    [Theory]
    [InlineData("3")]
    [InlineData("1")]
    public void The_temporal_penalty_with_an_odd_batch_is_refused_before_training(string batch)
    {
        string output = Path.Combine(_dir, "odd.safetensors");
        string[] args = [.. TinyModel.Where((_, i) => i < TinyModel.Length - 2), "--batch", batch, "--temporal", "0.3", "--steps", "5", "--out", output];
        var error = Assert.Throws<CliException>(() => TrainCommand.Run(CommandLine.Parse(["train", .. args])));
        Assert.Equal($"--batch {batch}: --temporal trains on pairs of neighbouring frames, so the batch must be even and at least 2", error.Message);
        Assert.False(File.Exists(output + ".ckpt"));
    }

    [Theory]
    [InlineData("--stability 1 --batch 4", "--stability compares two independently degraded copies of a frame: add --jpeg Q (e.g. --jpeg 30)")]
    [InlineData("--stability 1 --jpeg 30 --temporal 0.3 --batch 4", "--stability pairs each frame with a second degraded copy of itself, --temporal with its neighbour: use one of them")]
    [InlineData("--stability 1 --jpeg 30 --batch 3", "--batch 3: --stability trains on pairs of copies of a frame, so the batch must be even and at least 2")]
    public void The_stability_penalty_without_what_it_needs_is_refused_before_training(string options, string message)
    {
        string output = Path.Combine(_dir, "stability.safetensors");
        string[] args = [.. TinyModel.Where((_, i) => i < TinyModel.Length - 2), .. options.Split(' '), "--steps", "5", "--out", output];
        var error = Assert.Throws<CliException>(() => TrainCommand.Run(CommandLine.Parse(["train", .. args])));
        Assert.Equal(message, error.Message);
        Assert.False(File.Exists(output + ".ckpt"));
    }

    [Fact]
    public void An_unknown_task_to_refine_is_refused_before_training()
    {
        string output = Path.Combine(_dir, "refine.safetensors");
        string[] args = [.. TinyModel, "--refine", "segmentation,colour", "--steps", "5", "--out", output];
        var error = Assert.Throws<CliException>(() => TrainCommand.Run(CommandLine.Parse(["train", .. args])));
        Assert.Equal("--refine: 'colour' is not a task (segmentation, depth, normals)", error.Message);
        Assert.False(File.Exists(output + ".ckpt"));
    }

    [GeneratedRegex(@"interrupted after step (\d+) of 1000000: checkpoint .*model\.safetensors\.ckpt; run the same command with --resume")]
    private static partial Regex StoppedAt();

    [Fact]
    public async Task A_trained_base_grows_inside_its_shared_trunk_and_averages_only_with_its_own_architecture()
    {
        // The runs that train render a frame pool of about a gigabyte: they go to child processes, so this test
        // process stays small for the tests beside it that measure its memory (SocketTests).
        string cli = Path.Combine(AppContext.BaseDirectory, "streammtl");
        string[] twoBlocks = [.. TinyModel];
        twoBlocks[Array.IndexOf(twoBlocks, "--blocks") + 1] = "2";
        twoBlocks[Array.IndexOf(twoBlocks, "--split") + 1] = "1";
        string trained = Path.Combine(_dir, "trained.safetensors");
        await using (var train = ChildProcess.Start(cli, ["train", .. twoBlocks, "--steps", "2", "--out", trained]))
        {
            Assert.True(await train.WaitAsync(TimeSpan.FromSeconds(120)) == 0, train.Output);
        }

        string grown = Path.Combine(_dir, "grown.safetensors");
        string[] warmStart = ["--stage", "base", "--threads", "1", "--crop", "2x3", "--batch", "2", "--init", trained, "--out", grown];
        var outside = Assert.Throws<CliException>(() => TrainCommand.Run(CommandLine.Parse(["train", .. warmStart, "--grow", "1@2", "--steps", "1"])));
        Assert.Equal("new blocks go into the shared trunk: after block 0..1 of this model (its first block with sub-task deltas is 2), got 2", outside.Message);
        await using (var grow = ChildProcess.Start(cli, ["train", .. warmStart, "--grow", "2@1", "--steps", "2"]))
        {
            Assert.True(await grow.WaitAsync(TimeSpan.FromSeconds(120)) == 0, grow.Output);
        }
        var config = ModelFile.ReadMetadata(grown).Config;
        Assert.Equal((4, 3), (config.Blocks, config.SplitLayer));

        string averaged = Path.Combine(_dir, "averaged.safetensors");
        Assert.Throws<ModelFormatException>(() => AverageCommand.Run(CommandLine.Parse(["average", "--models", $"{trained},{grown}", "--out", averaged])));
        Assert.False(File.Exists(averaged));
        Assert.Equal(0, AverageCommand.Run(CommandLine.Parse(["average", "--models", $"{trained},{trained}", "--out", averaged])));
        Assert.Equal("average", ModelFile.ReadMetadata(averaged).Training[^1].Stage);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
