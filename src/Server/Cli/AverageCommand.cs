using StreamMtl.Training.Surgery;
using StreamMtl.Pipeline.Weights;

namespace StreamMtl.Server.Cli;

/// <summary>streammtl average: the element-wise mean of several model files of one architecture.</summary>
public static class AverageCommand
{
    public const string Help = """
        usage: streammtl average --models A,B[,...] --out F

          --models LIST  model files of one architecture, e.g. the checkpoints a training run wrote along
                         its last steps (stochastic weight averaging)
          --out F        the averaged model (may be one of the inputs)
        """;

    public static int Run(CliArgs args)
    {
        string list = args.String("models") ?? throw new CliException("--models A,B[,...] is required");
        string output = args.String("out") ?? throw new CliException("--out F is required");
        args.EnsureAllUsed();
        var inputs = list.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (inputs.Length < 2)
        {
            throw new CliException($"--models: averaging needs at least two files, got {inputs.Length}");
        }
        if (inputs.FirstOrDefault(p => !File.Exists(p)) is { } missing)
        {
            throw new CliException($"--models: {missing} does not exist");
        }
        var metadata = WeightAveraging.Average(inputs, output);
        Console.WriteLine($"averaged {inputs.Length} models ({metadata.Config.Blocks} blocks) -> {output}");
        return 0;
    }
}
