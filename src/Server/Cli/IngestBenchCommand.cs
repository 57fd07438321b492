using StreamMtl.Ingest.Bench;

namespace StreamMtl.Server.Cli;

/// <summary>streammtl ingest-bench: first-frame latency and steady-state frame interval of a source.</summary>
public static class IngestBenchCommand
{
    public const string Help = """
        usage: streammtl ingest-bench --source URI [--frames N]

          --source URI   source to open (file, rtsp://, synthetic://, ...)
          --frames N     frames to read                 [200]
        """;

    public static async Task<int> RunAsync(CliArgs args)
    {
        string uri = args.String("source") ?? throw new CliException("--source is required");
        int frames = args.Int("frames", 200, 2);
        args.EnsureAllUsed();
        var result = await IngestBenchmark.RunAsync(uri, frames);
        Console.WriteLine(result);
        return 0;
    }
}
