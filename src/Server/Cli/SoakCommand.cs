using System.CommandLine;
using StreamMtl.Ingest.Bench;

namespace StreamMtl.Server.Cli;

/// <summary>streammtl soak: reads a source at full speed for a while and reports process memory over time.</summary>
public static class SoakCommand
{
    private static readonly Option<string> Source = CliOptions.Text("--source", "URI", "source to read in a loop", "../shared/videos/vtest.avi#mode=batch&loop=1");
    private static readonly Option<int> Seconds = CliOptions.Int("--seconds", "duration", 600, min: 1);

    /// <summary>The soak command with its options; its body is <see cref="RunAsync"/>.</summary>
    internal static Command Create() =>
        CliOptions.Command("soak", "read a source in a loop and report process memory", RunAsync, Source, Seconds);

    public static async Task<int> RunAsync(ParseResult args)
    {
        string uri = args.GetRequiredValue(Source);
        int seconds = args.GetValue(Seconds);
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
