using StreamMtl.Training.Data;

namespace StreamMtl.Server.Cli;

/// <summary>A command's --data KIND:PATH: null (absent) for the synthetic camera; an unknown kind or a missing directory is a usage error.</summary>
public static class DataArgument
{
    /// <summary>Opens the data set <paramref name="text"/> names; its contents' errors are <see cref="DatasetException"/>s naming the file.</summary>
    public static Dataset? Open(string? text)
    {
        if (text == null)
        {
            return null;
        }
        int colon = text.IndexOf(':');
        string kind = colon > 0 ? text[..colon] : text;
        if (colon <= 0 || colon == text.Length - 1 || !Dataset.Kinds.Contains(kind))
        {
            throw new CliException($"--data: '{text}' is not KIND:PATH with KIND one of {string.Join(", ", Dataset.Kinds)} (e.g. folder:/data/site-a-labels, nyud:/data/NYUD_MT)");
        }
        string path = text[(colon + 1)..];
        if (!Directory.Exists(path))
        {
            throw new CliException($"--data {text}: no such directory: {path}");
        }
        return Dataset.Open(kind, path);
    }
}
