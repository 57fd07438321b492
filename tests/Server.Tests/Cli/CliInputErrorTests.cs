using StreamMtl.Server.Cli;

namespace StreamMtl.Server.Tests.Cli;

/// <summary>Bad command lines end in a CliException (printed as "streammtl CMD: ...", exit 2), never an unhandled exception.</summary>
public sealed class CliInputErrorTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("streammtl-cli-errors-").FullName;

    [Fact]
    public void Train_from_a_missing_init_model_names_the_file()
    {
        string missing = Path.Combine(_dir, "missing.safetensors");
        var error = Assert.Throws<CliException>(() => Train("--stage", "base", "--init", missing));
        Assert.Equal($"model file not found: {missing}", error.Message);
    }

    [Fact]
    public void The_sub_stage_refuses_the_base_task()
    {
        string init = Path.Combine(_dir, "base.safetensors");
        File.WriteAllBytes(init, [1, 2, 3]);
        var error = Assert.Throws<CliException>(() => Train("--stage", "sub", "--task", "depth,segmentation", "--init", init));
        Assert.Equal("--stage sub trains sub-tasks (depth, normals); segmentation is the base task: use --stage base", error.Message);
    }

    [Theory]
    [InlineData("100x77")]
    [InlineData("320x250")]
    public void Model_input_sizes_must_be_whole_patches(string size)
    {
        var error = Assert.Throws<CliException>(() => Sizes.ParseModelInput(size));
        Assert.Equal($"size {size}: the model reads 16x16 patches, so width and height must be multiples of 16 (e.g. 320x240)", error.Message);
        Assert.Equal((640, 480), Sizes.ParseModelInput("640x480"));
    }

    [Fact]
    public void Eval_at_a_size_the_model_cannot_read_stops_before_rendering()
    {
        string model = Path.Combine(_dir, "model.safetensors");
        File.WriteAllBytes(model, [1, 2, 3]);
        var error = Assert.Throws<CliException>(() => EvalCommand.Run(CommandLine.Parse(["eval", "--model", model, "--size", "100x77"])));
        Assert.StartsWith("size 100x77: the model reads 16x16 patches", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("4")]
    [InlineData("0@6")]
    [InlineData("2@x")]
    [InlineData("-1@2")]
    public void A_malformed_growth_is_refused(string grow)
    {
        var error = Assert.Throws<CliException>(() => Train("--stage", "base", "--grow", grow));
        Assert.Equal($"--grow: '{grow}' is not N@K (N new blocks, 1..64, after block K of the loaded model), e.g. 4@6", error.Message);
    }

    [Theory]
    [InlineData("base", false)]
    [InlineData("sub", true)]
    [InlineData("single", true)]
    public void Growth_outside_a_warm_started_base_stage_is_refused(string stage, bool init)
    {
        string model = Path.Combine(_dir, "base.safetensors");
        File.WriteAllBytes(model, [1, 2, 3]);
        string[] args = init ? ["--stage", stage, "--grow", "2@1", "--init", model] : ["--stage", stage, "--grow", "2@1"];
        var error = Assert.Throws<CliException>(() => Train(args));
        Assert.Equal("--grow deepens a trained base: use it with --stage base --init MODEL", error.Message);
    }

    [Fact]
    public void Averaging_needs_two_existing_files()
    {
        string model = Path.Combine(_dir, "a.safetensors");
        File.WriteAllBytes(model, [1, 2, 3]);
        string output = Path.Combine(_dir, "avg.safetensors");
        var one = Assert.Throws<CliException>(() => AverageCommand.Run(CommandLine.Parse(["average", "--models", model, "--out", output])));
        Assert.Equal("--models: averaging needs at least two files, got 1", one.Message);
        string missing = Path.Combine(_dir, "missing.safetensors");
        var gone = Assert.Throws<CliException>(() => AverageCommand.Run(CommandLine.Parse(["average", "--models", $"{model},{missing}", "--out", output])));
        Assert.Equal($"--models: {missing} does not exist", gone.Message);
        Assert.False(File.Exists(output));
    }

    [Fact]
    public void Calibration_refuses_the_evaluation_set_and_the_training_seeds()
    {
        string model = Path.Combine(_dir, "m.safetensors");
        File.WriteAllBytes(model, [1, 2, 3]);
        string output = Path.Combine(_dir, "calibrated.safetensors");
        var test = Assert.Throws<CliException>(() => CalibrateCommand.Run(CommandLine.Parse(["calibrate", "--model", model, "--out", output, "--first-seed", "5"])));
        Assert.Equal("--first-seed 5: seeds 1..8 are the evaluation set; calibrating on them would tune the model on its own test (use e.g. 101)", test.Message);
        var training = Assert.Throws<CliException>(() => CalibrateCommand.Run(CommandLine.Parse(["calibrate", "--model", model, "--out", output, "--first-seed", "9990", "--sequences", "16"])));
        Assert.Equal("--first-seed 9990 --sequences 16: the seeds would reach 10000, where training data starts", training.Message);
        var noOutput = Assert.Throws<CliException>(() => CalibrateCommand.Run(CommandLine.Parse(["calibrate", "--model", model])));
        Assert.Equal("--out G is required", noOutput.Message);
        Assert.False(File.Exists(output));
    }

    private int Train(params string[] args) =>
        TrainCommand.Run(CommandLine.Parse(["train", .. args, "--steps", "1", "--threads", "1", "--out", Path.Combine(_dir, "out.safetensors")]));

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
