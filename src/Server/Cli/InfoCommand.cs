using StreamMtl.Server.Hosting;
using System.CommandLine;
using StreamMtl.Pipeline.Weights;

namespace StreamMtl.Server.Cli;

/// <summary>streammtl info: a model file's architecture, classes, training record and metrics.</summary>
public static class InfoCommand
{
    private static readonly Option<string?> Model = CliOptions.ModelPath();
    private static readonly Option<string?> Adapter = CliOptions.AdapterPath();

    /// <summary>The info command with its option; its body is <see cref="Run"/>.</summary>
    internal static Command Create() => CliOptions.Command("info", "print a model file's metadata as JSON (with --adapter: the adapter's, checked against the model)", Run, Model, Adapter);

    public static int Run(ParseResult args)
    {
        string path = ModelArgument.Resolve(args.GetValue(Model));
        var metadata = ModelFile.ReadMetadata(path);
        Console.WriteLine(args.GetValue(Adapter) is { } adapter ? AdapterFile.ReadMetadata(adapter, path, metadata).ToJson() : metadata.ToJson());
        return 0;
    }
}
