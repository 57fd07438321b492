using StreamMtl.Training.Calibration;
using StreamMtl.Training.Evaluation;
using StreamMtl.Training;

namespace StreamMtl.Server.Cli;

/// <summary>streammtl calibrate: per-class segmentation logit offsets chosen for mIoU on a validation set, folded into a copy of the model.</summary>
public static class CalibrateCommand
{
    public const string Help = """
        usage: streammtl calibrate [--model F] --out G [options]

        Chooses one offset per class for the segmentation logits that maximises the pooled mIoU on validation
        sequences, and writes the model with the offsets folded into its head's output bias (same size, same
        cost). The evaluation set (seeds 1..8 of `streammtl eval`) is refused: tuning on it would tune on the test.

          --model F          model file                                  [the shipped model]
          --out G            the calibrated model (may be F)
          --first-seed S     first validation sequence's seed            [101]
          --sequences N      validation sequences                        [16]
          --frames N         frames per sequence                         [12]
          --stride N         frames between used frames                  [20]
          --size WxH         input size                                  [320x240]
          --max-offset X     largest offset, in logits                   [3]
        """;

    public static int Run(CliArgs args)
    {
        string model = ModelLocator.Resolve(args.String("model"));
        string output = args.String("out") ?? throw new CliException("--out G is required");
        var (width, height) = Sizes.ParseModelInput(args.String("size", "320x240"));
        var validation = new EvalOptions
        {
            ModelPath = model,
            FirstSeed = args.Int("first-seed", 101, 1, SyntheticDataset.FirstTrainingSeed - 1),
            Sequences = args.Int("sequences", 16, 1, 1000),
            FramesPerSequence = args.Int("frames", 12, 1, 10000),
            FrameStride = args.Int("stride", 20, 1, 100000),
            Width = width,
            Height = height,
        };
        double maxOffset = args.Double("max-offset", 3, 0.1, 20);
        args.EnsureAllUsed();
        if (validation.FirstSeed <= SyntheticDataset.EvaluationSequences)
        {
            throw new CliException($"--first-seed {validation.FirstSeed}: seeds 1..{SyntheticDataset.EvaluationSequences} are the evaluation set; calibrating on them would tune the model on its own test (use e.g. 101)");
        }
        EvalCommand.EnsureBelowTrainingSeeds(validation);
        var result = ClassBiasCalibration.Run(validation, output, maxOffset, Console.WriteLine);
        Console.WriteLine($"calibrated on {result.Frames} frames ({result.Pixels} pixels): validation mIoU {result.MiouBefore:F4} -> {result.MiouAfter:F4} -> {output}");
        return 0;
    }
}
