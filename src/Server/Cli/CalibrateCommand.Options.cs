using System.CommandLine;
using StreamMtl.Training;
using static StreamMtl.Server.Cli.CliOptions;

namespace StreamMtl.Server.Cli;

public static partial class CalibrateCommand
{
    /// <summary>The options of <c>streammtl calibrate</c>.</summary>
    internal static class Options
    {
        public static readonly Option<string?> Model = ModelPath();
        public static readonly Option<string?> Out = OptionalText("--out", "G", "the calibrated model (may be F); required");
        public static readonly Option<int> FirstSeed = Int("--first-seed", "first validation sequence's seed", 101, 1,
            SyntheticDataset.FirstTrainingSeed - 1, helpName: "S");
        public static readonly Option<int> Sequences = Int("--sequences", "validation sequences", 16, 1, 1000);
        public static readonly Option<int> Frames = Int("--frames", "frames per sequence", 12, 1, 10000);
        public static readonly Option<int> Stride = Int("--stride", "frames between used frames", 20, 1, 100000);
        public static readonly Option<string> Size = InputSize();
        public static readonly Option<double> MaxOffset = Double("--max-offset", "largest offset, in logits", 3, 0.1, 20);
    }

    /// <summary>Printed after the generated help.</summary>
    internal const string Notes = """
        Chooses one offset per class for the segmentation logits that maximises the pooled mIoU on validation
        sequences, and writes the model with the offsets folded into its head's output bias (same size, same
        cost). The evaluation set (seeds 1..8 of `streammtl eval`) is refused: tuning on it would tune on the test.
        """;

    /// <summary>The calibrate command with its options; its body is <see cref="Run"/>.</summary>
    internal static Command Create() => CliOptions.Command("calibrate", "per-class segmentation offsets chosen for mIoU on a validation set, " +
        "folded into the model", Run, Options.Model, Options.Out, Options.FirstSeed, Options.Sequences, Options.Frames, Options.Stride,
        Options.Size, Options.MaxOffset);
}
