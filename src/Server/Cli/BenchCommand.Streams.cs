using System.CommandLine;
using System.Globalization;
using StreamMtl.Server.Capacity;
using StreamMtl.Server.Soak;

namespace StreamMtl.Server.Cli;

public static partial class BenchCommand
{
    /// <summary>bench --kind streams: N streams of one source through the real service; --find-max searches the largest N sustained.</summary>
    private static async Task<int> StreamsAsync(ParseResult args)
    {
        string source = args.GetValue(Options.Source) ?? throw new CliException("--source URI is required for --kind streams, e.g. " +
            "\"../shared/videos/vtest.avi#mode=live&loop=1\"");
        string neighbour = args.GetRequiredValue(Options.Neighbour);
        if (neighbour is not ("off" or "on" or "both"))
        {
            throw new CliException($"--neighbour must be off, on or both, got '{neighbour}'");
        }
        string? json = args.GetValue(Options.Json);
        bool findMax = args.GetValue(Options.FindMax);
        Options.EnsureOnly(args, "streams", Options.StreamsRun);
        var serve = new List<string>();
        if (args.GetValue(Options.Model) is { } model)
        {
            serve.AddRange(["--model", ModelArgument.Resolve(model)]);
        }
        if (args.GetResult(Options.Size) is { Implicit: false })
        {
            serve.AddRange(["--size", args.GetRequiredValue(Options.Size)]);
        }
        if (args.GetValue(Options.Threads) is int threads)
        {
            serve.Add($"--StreamMtl:Model:Threads={threads.ToString(CultureInfo.InvariantCulture)}");
        }
        if (args.GetValue(Options.BFloat16))
        {
            serve.Add("--StreamMtl:Model:Precision=bfloat16");
        }
        foreach (string setting in args.GetValue(Options.Set) ?? [])
        {
            serve.Add("--" + (setting.Contains('=') ? setting : throw new CliException($"--set takes KEY=VALUE, got '{setting}'")));
        }
        Ingest.Synthetic.SyntheticSpec? truth = null;
        if (args.GetValue(Options.ScoreTruth))
        {
            if (!source.StartsWith("synthetic:", StringComparison.OrdinalIgnoreCase))
            {
                throw new CliException($"--score-truth needs a synthetic:// source (the only one with truth), got '{source}'");
            }
            if (args.GetValue(Options.SkipUnchanged))
            {
                throw new CliException("--score-truth scores every result's outputs; --skip-unchanged sends some without data");
            }
            try
            {
                truth = Ingest.Synthetic.SyntheticSpec.Parse(source);
            }
            catch (Ingest.Sources.SourceException e)
            {
                throw new CliException($"--source: {e.Message}");
            }
        }
        var settings = new StreamsBenchSettings
        {
            DotnetHost = ServiceChild.DotnetHost(),
            ServerDll = args.GetValue(Options.ServerDll) is { } dll
                ? (File.Exists(dll) ? Path.GetFullPath(dll) : throw new CliException($"--server-dll {dll}: no such file"))
                : Path.Combine(AppContext.BaseDirectory, "streammtl.dll"),
            Source = source,
            Streams = args.GetValue(Options.Streams),
            Dense = args.GetValue(Options.Dense),
            SkipUnchanged = args.GetValue(Options.SkipUnchanged),
            StoredPngs = args.GetValue(Options.StoredPngs),
            ScoreTruth = truth,
            ServeArguments = serve,
            Warmup = TimeSpan.FromSeconds(args.GetValue(Options.Warmup)),
            Duration = TimeSpan.FromSeconds(args.GetValue(Options.Seconds)),
        };
        double? nominal = args.GetValue(Options.SourceFps) ?? NominalFps.Of(source);
        Console.WriteLine($"streams bench: {source} ({(nominal is double f ? $"{f:0.##} fps" : "frame rate unknown: judged by frames ingested")}), " +
            $"{(settings.Dense ? "dense" : "temporal reuse")}{(settings.SkipUnchanged ? ", subscribers skip unchanged outputs" : "")}{(settings.StoredPngs ? ", stored PNGs" : "")}, warm-up {settings.Warmup.TotalSeconds:0} s, window {settings.Duration.TotalSeconds:0} s, " +
            $"{Environment.ProcessorCount} cores; a fresh `streammtl serve` per run ({settings.ServerDll})");
        using var stop = new StopSignal();
        var runs = new List<StreamsRun>();
        try
        {
            if (findMax)
            {
                var (largest, probes) = await CapacitySearch.FindAsync(async n =>
                {
                    var run = await StreamsBenchmark.RunAsync(settings with { Streams = n, Neighbour = neighbour == "on" }, nominal, stop.Token);
                    Print(run);
                    return run;
                }, settings.Streams);
                runs.AddRange(probes);
                Console.WriteLine($"largest stream count sustaining >= {StreamsBenchSettings.SustainedShare:P0} of every stream's frames: {largest}" +
                    (largest == settings.Streams ? $" (the most tried; --streams raises it)" : ""));
            }
            else
            {
                foreach (bool withNeighbour in neighbour == "both" ? [false, true] : new[] { neighbour == "on" })
                {
                    var run = await StreamsBenchmark.RunAsync(settings with { Neighbour = withNeighbour }, nominal, stop.Token);
                    Print(run);
                    runs.Add(run);
                }
                if (runs.Count == 2)
                {
                    Console.WriteLine($"with the neighbour: {runs[1].TotalProcessedFps:F1} fps processed vs {runs[0].TotalProcessedFps:F1} quiet = " +
                        $"{runs[1].TotalProcessedFps / runs[0].TotalProcessedFps:P0} of the quiet throughput");
                }
            }
        }
        catch (OperationCanceledException) when (stop.Token.IsCancellationRequested)
        {
            Console.WriteLine("streams bench: interrupted");
            return TrainCommand.Interrupted;
        }
        catch (InvalidOperationException e)
        {
            throw new CliException(e.Message);
        }
        WriteJson(json, runs);
        return 0;
    }

    private static void Print(StreamsRun run)
    {
        Console.WriteLine($"{run.StreamCount} stream(s){(run.Neighbour ? " + neighbour" : "")}: {run.TotalProcessedFps:F1} fps processed in total, " +
            $"worst stream {run.MinSustained:P1} of its frames ({(run.Sustains ? "sustained" : "NOT sustained")}), service CPU {run.CpuCores:F2} cores, " +
            $"worst inference p99/p50 {run.WorstInferenceSpread:F2}");
        if (run.MeanStageMs.Count > 0)
        {
            // Where a frame's time goes in the service (wall time per frame, mean over the streams).
            Console.WriteLine("  stage means: " + string.Join(", ", run.MeanStageMs.Select(kv => $"{kv.Key} {kv.Value:F1} ms")));
        }
        Console.WriteLine("  stream   src fps  proc fps  recv fps  sustained  keyframes  infer p50/p99 ms   e2e p50/p99 ms  drops");
        foreach (var s in run.Streams)
        {
            string drops = string.Join(' ', s.Drops.Where(d => d.Value > 0).Select(d => $"{d.Key}={d.Value}"));
            if (s.Levels is { } levels && levels.GetValueOrDefault("full") < 1)
            {
                // Streams below full compute (a configured level or the overload controller): the share of results per level.
                drops += " levels " + string.Join(' ', levels.Select(l => $"{l.Key}={l.Value:P0}"));
            }
            if (s.MeanComputeBudget < 1)
            {
                // Streams below compute budget 1 (configured, or lowered by the overload controller): the mean budget run.
                drops += $" budget mean={s.MeanComputeBudget:F2}";
            }
            Console.WriteLine($"  {s.Id,-6} {s.SourceFps,8:F2} {s.ProcessedFps,9:F2} {s.ReceivedFps,9:F2} {s.Sustained,10:P1} {s.KeyframeShare,10:P1} " +
                $"{s.InferenceMs.P50,7:F1}/{s.InferenceMs.P99,-7:F1} {s.EndToEndMs.P50,8:F0}/{s.EndToEndMs.P99,-7:F0} {(drops.Length > 0 ? drops : "-")}");
        }
        if (run.Streams.Any(s => s.Delivered != null))
        {
            // Against the synthetic source's truth: each result on its own frame, and each source frame on the result on screen.
            Console.WriteLine("  truth    results  processed mIoU/AbsRel/normals    frames  shown mIoU/AbsRel/normals");
            foreach (var s in run.Streams)
            {
                Console.WriteLine(s.Delivered is { } d
                    ? $"  {s.Id,-6} {d.Results,9} {Scores(d.Processed),32} {d.Frames,9}  {Scores(d.Shown)}"
                    : $"  {s.Id,-6} no results");
            }
        }
    }

    private static string Scores(Training.Benchmarks.TruthScores t) =>
        $"{t.SegmentationMIoU:F4} / {t.DepthAbsRel:F4} / {t.NormalsMeanDeg:F2} deg";
}
