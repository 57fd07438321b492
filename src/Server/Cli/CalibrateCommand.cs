using StreamMtl.Server.Hosting;
using System.CommandLine;
using StreamMtl.Training.Calibration;
using StreamMtl.Training.Evaluation;
using StreamMtl.Training;

namespace StreamMtl.Server.Cli;

/// <summary>streammtl calibrate: per-class segmentation logit offsets chosen for mIoU on a validation set, folded into a copy of the model.</summary>
public static partial class CalibrateCommand
{
    public static int Run(ParseResult args)
    {
        string model = ModelArgument.Resolve(args.GetValue(Options.Model));
        string output = args.GetValue(Options.Out) ?? throw new CliException("--out G is required");
        var (width, height) = Sizes.ParseModelInput(args.GetRequiredValue(Options.Size));
        var validation = new EvalOptions
        {
            ModelPath = model,
            FirstSeed = args.GetValue(Options.FirstSeed),
            Sequences = args.GetValue(Options.Sequences),
            FramesPerSequence = args.GetValue(Options.Frames),
            FrameStride = args.GetValue(Options.Stride),
            Width = width,
            Height = height,
        };
        double maxOffset = args.GetValue(Options.MaxOffset);
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
