using StreamMtl.Ingest.Bench;

namespace StreamMtl.Server.Cli;

/// <summary>streammtl soak: reads a source at full speed for a while and reports process memory over time.</summary>
public static class SoakCommand
{
    public const string Help = """
        usage: streammtl soak [--source URI] [--seconds N]

          --source URI   source to read in a loop     [../shared/videos/vtest.avi#mode=batch&loop=1]
          --seconds N    duration                      [600]
        """;

    public static async Task<int> RunAsync(CliArgs args)
    {
        string uri = args.String("source", "../shared/videos/vtest.avi#mode=batch&loop=1");
        int seconds = args.Int("seconds", 600, 1);
        args.EnsureAllUsed();
        Console.WriteLine($"soak: reading {uri} for {seconds} s");
        var result = await SoakRunner.RunAsync(uri, TimeSpan.FromSeconds(seconds));
        foreach (var s in result.Samples)
        {
            Console.WriteLine($"  t={s.Elapsed.TotalSeconds,6:F0}s rss={s.RssBytes / 1048576.0,7:F1} MiB managed={s.ManagedBytes / 1048576.0,6:F1} MiB frames={s.Frames} drops={s.Drops}");
        }
        Console.WriteLine(result);
        return 0;
    }
}
