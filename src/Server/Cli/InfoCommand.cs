using StreamMtl.Pipeline.Weights;

namespace StreamMtl.Server.Cli;

/// <summary>streammtl info: a model file's architecture, classes, training record and metrics.</summary>
public static class InfoCommand
{
    public const string Help = "usage: streammtl info [--model F]   print a model file's metadata as JSON";

    public static int Run(CliArgs args)
    {
        string path = ModelLocator.Resolve(args.String("model"));
        args.EnsureAllUsed();
        Console.WriteLine(ModelFile.ReadMetadata(path).ToJson());
        return 0;
    }
}
