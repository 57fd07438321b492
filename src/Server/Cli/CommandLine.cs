using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using StreamMtl.Ingest.Sources;
using StreamMtl.Pipeline.Weights;
using StreamMtl.Training.Data;
using StreamMtl.Training.Teachers;

namespace StreamMtl.Server.Cli;

/// <summary>The streammtl command line: one subcommand per job, parsed by System.CommandLine.</summary>
public static class CommandLine
{
    /// <summary>Exit code of a usage error: a parse error, a refused combination of options, no command at all.</summary>
    public const int UsageError = 2;

    // A value that starts with @ is a value: the hand-written parser never read response files, and scripts pass paths through.
    private static readonly ParserConfiguration Parsing = new() { ResponseFileTokenReplacer = null };

    private static readonly Command Root = CreateRoot();

    public static Task<int> RunAsync(string[] args) => RunAsync(args, Console.Out, Console.Error);

    /// <summary>Runs a command line with help and error messages written to <paramref name="output"/> and <paramref name="error"/>.</summary>
    internal static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error)
    {
        // Exceptions reach the handlers below; the commands handle Ctrl+C and SIGTERM themselves (train checkpoints, serve drains).
        var invocation = new InvocationConfiguration { Output = output, Error = error, EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = null };
        if (args.Length == 0)
        {
            // The usage, but as a failure: a bare `streammtl` in a script is a mistake.
            await Root.Parse(["--help"], Parsing).InvokeAsync(invocation);
            return UsageError;
        }
        var result = Root.Parse(args, Parsing);
        string name = result.CommandResult.Command == Root ? Root.Name : $"{Root.Name} {result.CommandResult.Command.Name}";
        if (result.Action is ParseErrorAction)
        {
            foreach (var parseError in result.Errors)
            {
                error.WriteLine($"{name}: {parseError.Message}");
            }
            error.WriteLine($"run '{name} --help' for the options");
            return UsageError;
        }
        try
        {
            return await result.InvokeAsync(invocation);
        }
        catch (CliException e)
        {
            error.WriteLine($"{name}: {e.Message}");
            return UsageError;
        }
        catch (ModelFormatException e)
        {
            error.WriteLine($"{name}: model file error: {e.Message}");
            return 1;
        }
        catch (SourceException e)
        {
            error.WriteLine($"{name}: source error ({e.Kind}): {e.Message}");
            return 1;
        }
        catch (TeacherException e)
        {
            error.WriteLine($"{name}: teacher error: {e.Message}");
            return 1;
        }
        catch (DatasetException e)
        {
            error.WriteLine($"{name}: dataset error: {e.Message}");
            return 1;
        }
    }

    /// <summary>Parses a command line without running it (for a caller that runs the command's body itself); a parse error throws <see cref="CliException"/>.</summary>
    internal static ParseResult Parse(params string[] args)
    {
        var result = Root.Parse(args, Parsing);
        return result.Errors.Count == 0 ? result : throw new CliException(string.Join("\n", result.Errors.Select(e => e.Message)));
    }

    private static Command CreateRoot()
    {
        var root = new Command("streammtl", "real-time multi-task vision (segmentation, depth, normals) over video streams: the gRPC service and its tools");
        var serve = ServeCommand.Create();
        var calibrate = CalibrateCommand.Create();
        var soak = SoakCommand.Create();
        var label = LabelCommand.Create();
        Command[] commands =
        [
            serve, WatchCommand.Create(), TrainCommand.Create(), EvalCommand.Create(), BenchCommand.Create(), IngestBenchCommand.Create(),
            soak, InfoCommand.Create(), AverageCommand.Create(), calibrate, label, BudgetCurveCommand.Create(),
        ];
        foreach (var command in commands)
        {
            root.Subcommands.Add(command);
        }
        root.Subcommands.Add(HelpCommand([.. commands.Select(c => c.Name)]));
        var help = new HelpOption();
        help.Action = new NotedHelp((HelpAction)help.Action!, new Dictionary<Command, string> { [serve] = ServeCommand.Notes, [calibrate] = CalibrateCommand.Notes, [soak] = SoakCommand.Notes, [label] = LabelCommand.Notes });
        root.Options.Add(help);
        return root;
    }

    /// <summary>`streammtl help [command]`: the same text as --help, exit code 0.</summary>
    private static Command HelpCommand(string[] names)
    {
        var command = new Argument<string?>("command") { Arity = ArgumentArity.ZeroOrOne, Description = "the command to describe" };
        command.AcceptOnlyFromAmong(names);
        var help = new Command("help", "this text, or a command's options") { command };
        help.SetAction(result =>
            Root.Parse(result.GetValue(command) is { } name ? [name, "--help"] : ["--help"], Parsing).Invoke(result.InvocationConfiguration));
        return help;
    }
}
