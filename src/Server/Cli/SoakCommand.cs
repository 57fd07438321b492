using System.CommandLine;
using StreamMtl.Ingest.Bench;
using StreamMtl.Server.Soak;

namespace StreamMtl.Server.Cli;

/// <summary>
/// streammtl soak: by default the real service as a child process under 2 streams, 2 subscribers and a Process client, its
/// RSS, file descriptors and threads sampled over time, judged against issue 21's bars and drawn as a chart;
/// <c>--mode ingest</c> reads one source in this process and reports its memory.
/// </summary>
public static partial class SoakCommand
{
    public static async Task<int> RunAsync(ParseResult args)
    {
        var output = args.InvocationConfiguration.Output;
        using var stop = new StopSignal();
        return args.GetRequiredValue(Options.Mode) == "ingest" ? await IngestAsync(args, output, stop.Token) : await ServiceAsync(args, output, stop.Token);
    }

    private static async Task<int> ServiceAsync(ParseResult args, TextWriter output, CancellationToken stop)
    {
        var serve = new List<string>(ServeCommand.HostArguments(args));
        string video = Path.GetFullPath(args.GetRequiredValue(Options.Video));
        if (!File.Exists(video))
        {
            throw new CliException($"--video {video}: no such file");
        }
        var (processWidth, processHeight) = Sizes.Parse(args.GetRequiredValue(Options.ProcessSize));
        if (args.GetValue(Options.Model) is { } model)
        {
            serve.AddRange(["--model", ModelArgument.Resolve(model)]);
        }
        if (args.GetValue(Options.Size) is { } size)
        {
            serve.AddRange(["--size", size]);
        }
        var settings = new ServiceSoakSettings
        {
            DotnetHost = ServiceChild.DotnetHost(),
            ServerDll = Path.Combine(AppContext.BaseDirectory, "streammtl.dll"),
            Streams = [new("camera", args.GetRequiredValue(Options.Camera)), new("video", video + "#mode=live&loop=1")],
            ServeArguments = serve,
            Duration = TimeSpan.FromSeconds(args.GetValue(Options.Seconds)),
            SampleEvery = TimeSpan.FromSeconds(args.GetValue(Options.Every)),
            ProcessWidth = processWidth,
            ProcessHeight = processHeight,
            ProcessInterval = TimeSpan.FromMilliseconds(args.GetValue(Options.ProcessInterval)),
        };
        output.WriteLine($"soak: the service with streams {string.Join(", ", settings.Streams.Select(s => $"'{s.Id}' ({s.Source})"))}, a subscriber each " +
            $"and a Process client ({processWidth}x{processHeight} PNG every {settings.ProcessInterval.TotalMilliseconds:0} ms) for {settings.Duration.TotalSeconds:0} s, " +
            $"sampled every {settings.SampleEvery.TotalSeconds:0} s");
        ServiceSoakResult result;
        try
        {
            result = await ServiceSoak.RunAsync(settings, pid => output.WriteLine($"soak: service pid {pid} listening"),
                s => output.WriteLine($"  t={s.Elapsed.TotalSeconds,6:F0}s rss={s.RssMiB,7:F1} MiB fds={s.FileDescriptors,4} threads={s.Threads,4} " +
                    string.Join(' ', settings.Streams.Select((stream, i) => $"{stream.Id}={s.StreamFrames[i],6}")) + $" process={s.ProcessReplies,5}"), stop);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            output.WriteLine("soak: interrupted before the first sample");
            return TrainCommand.Interrupted;
        }
        catch (InvalidOperationException e)
        {
            args.InvocationConfiguration.Error.WriteLine($"streammtl soak: {e.Message}");
            return 1;
        }
        string csv = args.GetRequiredValue(Options.Csv);
        string png = args.GetRequiredValue(Options.Png);
        result.WriteCsv(csv);
        SoakChart.Save(result, png);
        foreach (string line in result.Report())
        {
            output.WriteLine(line);
        }
        output.WriteLine($"samples: {csv}; chart: {png}");
        if (stop.IsCancellationRequested)
        {
            output.WriteLine($"soak: interrupted after {result.Duration.TotalSeconds:0} s: no verdict");
            return TrainCommand.Interrupted;
        }
        var failures = result.Failures;
        foreach (string failure in failures)
        {
            output.WriteLine($"FAIL: {failure}");
        }
        output.WriteLine(failures.Count == 0 ? "PASS: RSS growth, file descriptors and threads within the bars" : $"soak: {failures.Count} bar(s) missed");
        return failures.Count == 0 ? 0 : 1;
    }

    private static async Task<int> IngestAsync(ParseResult args, TextWriter output, CancellationToken stop)
    {
        if (args.UnmatchedTokens.Count > 0)
        {
            throw new CliException($"Unrecognized command or argument '{args.UnmatchedTokens[0]}' (--mode ingest takes no configuration keys)");
        }
        string uri = args.GetRequiredValue(Options.Source);
        int seconds = args.GetValue(Options.Seconds);
        output.WriteLine($"soak: reading {uri} for {seconds} s");
        var result = await SoakRunner.RunAsync(uri, TimeSpan.FromSeconds(seconds), TimeSpan.FromSeconds(args.GetValue(Options.Every)), cancellationToken: stop);
        foreach (var s in result.Samples)
        {
            output.WriteLine($"  t={s.Elapsed.TotalSeconds,6:F0}s rss={s.RssBytes / 1048576.0,7:F1} MiB managed={s.ManagedBytes / 1048576.0,6:F1} MiB frames={s.Frames} drops={s.Drops}");
        }
        output.WriteLine(result);
        return stop.IsCancellationRequested ? TrainCommand.Interrupted : 0;
    }
}
