using System.CommandLine;
using StreamMtl.Ingest.Bench;

namespace StreamMtl.Server.Cli;

/// <summary>streammtl ingest-bench: first-frame latency and steady-state frame interval of a source.</summary>
public static class IngestBenchCommand
{
    private static readonly Option<string?> Source = CliOptions.OptionalText("--source", "URI", "source to open (file, rtsp://, synthetic://, ...); required");
    private static readonly Option<int> Frames = CliOptions.Int("--frames", "frames to read", 200, min: 2);

    /// <summary>The ingest-bench command with its options; its body is <see cref="RunAsync"/>.</summary>
    internal static Command Create() =>
        CliOptions.Command("ingest-bench", "first-frame latency and frame interval of a source", RunAsync, Source, Frames);

    public static async Task<int> RunAsync(ParseResult args)
    {
        string uri = args.GetValue(Source) ?? throw new CliException("--source is required");
        int frames = args.GetValue(Frames);
        var result = await IngestBenchmark.RunAsync(uri, frames);
        Console.WriteLine(result);
        return 0;
    }
}
