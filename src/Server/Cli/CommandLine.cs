using StreamMtl.Ingest.Sources;
using StreamMtl.Pipeline.Weights;

namespace StreamMtl.Server.Cli;

/// <summary>The streammtl command line: one subcommand per job.</summary>
public static class CommandLine
{
    private const string Usage = """
        usage: streammtl <command> [options]

        commands:
          serve   run the gRPC service (default source: the synthetic camera, default model: the shipped one)
          watch   subscribe to a stream and write colour-mapped results side by side with the input
          train   train the model on synthetic-camera data (stages: base, sub, single, all)
          eval    evaluate a model on held-out synthetic sequences (--json report)
          bench   benchmarks: --kind render | model
          ingest-bench  first-frame latency and frame interval of a source
          soak    read a source in a loop and report process memory
          info    print a model file's metadata
          average average the weights of several model files (e.g. a run's last checkpoints)
          calibrate  per-class segmentation offsets chosen for mIoU on a validation set, folded into the model
          help    this text

        run 'streammtl <command> --help' for the options of a command.
        """;

    public static async Task<int> RunAsync(string[] args)
    {
        if (args.Length == 0 || args[0] is "help" or "--help" or "-h")
        {
            Console.WriteLine(Usage);
            return args.Length == 0 ? 2 : 0;
        }
        string command = args[0];
        try
        {
            if (command == "serve")
            {
                // serve passes --StreamMtl:Key=value options through to the host configuration.
                return await ServeCommand.RunAsync(args[1..]);
            }
            if (command == "watch")
            {
                return await WatchCommand.RunAsync(CliArgs.Parse(args.Skip(1)));
            }
            var options = CliArgs.Parse(args.Skip(1));
            if (options.Flag("help"))
            {
                Console.WriteLine(HelpFor(command));
                return 0;
            }
            return command switch
            {
                "train" => TrainCommand.Run(options),
                "eval" => EvalCommand.Run(options),
                "bench" => BenchCommand.Run(options),
                "info" => InfoCommand.Run(options),
                "average" => AverageCommand.Run(options),
                "calibrate" => CalibrateCommand.Run(options),
                "ingest-bench" => await IngestBenchCommand.RunAsync(options),
                "soak" => await SoakCommand.RunAsync(options),
                _ => throw new CliException($"unknown command '{command}'\n\n{Usage}"),
            };
        }
        catch (CliException e)
        {
            Console.Error.WriteLine($"streammtl {command}: {e.Message}");
            return 2;
        }
        catch (ModelFormatException e)
        {
            Console.Error.WriteLine($"streammtl {command}: model file error: {e.Message}");
            return 1;
        }
        catch (SourceException e)
        {
            Console.Error.WriteLine($"streammtl {command}: source error ({e.Kind}): {e.Message}");
            return 1;
        }
    }

    private static string HelpFor(string command) => command switch
    {
        "serve" => ServeCommand.Help,
        "watch" => WatchCommand.Help,
        "train" => TrainCommand.Help,
        "eval" => EvalCommand.Help,
        "bench" => BenchCommand.Help,
        "info" => InfoCommand.Help,
        "average" => AverageCommand.Help,
        "calibrate" => CalibrateCommand.Help,
        "ingest-bench" => IngestBenchCommand.Help,
        "soak" => SoakCommand.Help,
        _ => Usage,
    };
}
