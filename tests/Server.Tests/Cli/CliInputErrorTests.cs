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
        var error = Assert.Throws<CliException>(() => EvalCommand.Run(CliArgs.Parse(["--model", model, "--size", "100x77"])));
        Assert.StartsWith("size 100x77: the model reads 16x16 patches", error.Message, StringComparison.Ordinal);
    }

    private int Train(params string[] args) =>
        TrainCommand.Run(CliArgs.Parse([.. args, "--steps", "1", "--threads", "1", "--out", Path.Combine(_dir, "out.safetensors")]));

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
