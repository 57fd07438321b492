using StreamMtl.Server.Hosting;

namespace StreamMtl.Server.Cli;

/// <summary>A command's --model value: the file given, else the shipped model; a missing file is a CLI error.</summary>
public static class ModelArgument
{
    public static string Resolve(string? path)
    {
        string resolved = path ?? ModelLocator.Default();
        if (!File.Exists(resolved))
        {
            throw new CliException($"model file not found: {resolved}");
        }
        return resolved;
    }
}
