using System.CommandLine;
using StreamMtl.Training.Surgery;
using StreamMtl.Pipeline.Weights;

namespace StreamMtl.Server.Cli;

/// <summary>streammtl average: the element-wise mean of several model files of one architecture.</summary>
public static class AverageCommand
{
    private static readonly Option<string?> Models = CliOptions.OptionalText("--models", "LIST", "model files of one architecture, e.g. the " +
        "checkpoints a training run wrote along its last steps (stochastic weight averaging); required");
    private static readonly Option<string?> Out = CliOptions.OptionalText("--out", "F", "the averaged model (may be one of the inputs); required");

    /// <summary>The average command with its options; its body is <see cref="Run"/>.</summary>
    internal static Command Create() =>
        CliOptions.Command("average", "average the weights of several model files (e.g. a run's last checkpoints)", Run, Models, Out);

    public static int Run(ParseResult args)
    {
        string list = args.GetValue(Models) ?? throw new CliException("--models A,B[,...] is required");
        string output = args.GetValue(Out) ?? throw new CliException("--out F is required");
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
