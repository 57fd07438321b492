using System.Diagnostics;
using System.Globalization;
using Grpc.Net.Client;
using StreamMtl.Api.V1;
using StreamMtl.Server.Soak;
using Task = System.Threading.Tasks.Task;

namespace StreamMtl.Server.Capacity;

/// <summary>
/// Cameras per box, measured on the real service: <c>streammtl serve</c> as a child process declares N always-on streams of
/// one source, a gRPC subscriber reads each, and after a warm-up the window's figures are taken from the service itself
/// (GetStream counters, /metrics drop reasons, /proc CPU time) and from the results (keyframe flag, inference stage time,
/// capture-to-receipt latency). The child is killed on every way out.
/// </summary>
public static class StreamsBenchmark
{
    /// <summary>Runs the service, measures the window and, with <see cref="StreamsBenchSettings.ScoreTruth"/>, scores what each
    /// subscriber received once the service has stopped (so scoring takes no CPU from the run).</summary>
    public static async Task<StreamsRun> RunAsync(StreamsBenchSettings settings, double? nominalFps, CancellationToken cancellationToken = default)
    {
        var (run, kept, classes) = await MeasureAsync(settings, nominalFps, cancellationToken).ConfigureAwait(false);
        if (settings.ScoreTruth is not { } spec)
        {
            return run;
        }
        var delivered = DeliveredTruth.Score(spec, classes, kept);
        return run with { Streams = [.. run.Streams.Select((s, i) => s with { Delivered = delivered[i] })] };
    }

    private static async Task<(StreamsRun Run, IReadOnlyList<KeptResult>[] Kept, int Classes)> MeasureAsync(StreamsBenchSettings settings,
        double? nominalFps, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(settings.Streams, 1);
        int grpcPort = ServiceChild.FreeLoopbackPort();
        int metricsPort = ServiceChild.FreeLoopbackPort();
        var ids = Enumerable.Range(0, settings.Streams).Select(i => $"s{i}").ToArray();
        await using var service = await ServiceChild.StartAsync(settings.DotnetHost, settings.ServerDll,
            ServeArguments(settings, ids, grpcPort, metricsPort), settings.StartTimeout, cancellationToken).ConfigureAwait(false);
        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{grpcPort}");
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{metricsPort}"), Timeout = TimeSpan.FromSeconds(10) };
        var client = new VisionService.VisionServiceClient(channel);
        int keep = settings.KeptResultsPerStream(nominalFps);
        var recorders = ids.Select(id => new ResultRecorder(id, settings.SubscriberEncoding(), keep)).ToArray();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var subscribers = recorders.Select(r => r.RunAsync(client, stop.Token)).ToArray();
        using var neighbour = settings.Neighbour ? new BusyNeighbour() : null;
        try
        {
            await Task.Delay(settings.Warmup, cancellationToken).ConfigureAwait(false);
            var before = await ReadAsync(client, http, service, ids, cancellationToken).ConfigureAwait(false);
            foreach (var r in recorders)
            {
                r.Measuring = true;
            }
            await Task.Delay(settings.Duration, cancellationToken).ConfigureAwait(false);
            foreach (var r in recorders)
            {
                r.Measuring = false;
            }
            var after = await ReadAsync(client, http, service, ids, cancellationToken).ConfigureAwait(false);
            if (recorders.FirstOrDefault(r => r.Error != null) is { } failed)
            {
                throw new InvalidOperationException($"the subscriber of '{failed.StreamId}' failed: {failed.Error}; the service's output:\n{service.OutputTail}");
            }
            double seconds = (after.At - before.At).TotalSeconds;
            var streams = ids.Select((id, i) => Figures(id, before, after, recorders[i], seconds, nominalFps)).ToList();
            var run = new StreamsRun(settings.Source, settings.Streams, settings.Dense, settings.Neighbour, nominalFps, seconds,
                (after.CpuSeconds - before.CpuSeconds) / seconds, streams);
            int classes = 0;
            if (settings.ScoreTruth != null)
            {
                var model = await client.GetModelInfoAsync(new GetModelInfoRequest(), cancellationToken: cancellationToken).ConfigureAwait(false);
                classes = model.Classes.Select(c => c.Id + 1).DefaultIfEmpty(0).Max();
            }
            var kept = recorders.Select(r => r.KeptOutputs()).ToArray();
            if (kept.FirstOrDefault(k => k.NotKept > 0) is { Kept: var full, NotKept: > 0 } over)
            {
                throw new InvalidOperationException($"a subscriber received more than {full.Count} results in the window ({over.NotKept} more), " +
                    "twice the source's frames: its results cannot all be scored");
            }
            return (run, [.. kept.Select(k => k.Kept)], classes);
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(subscribers).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    private static StreamFigures Figures(string id, Reading before, Reading after, ResultRecorder recorder, double seconds, double? nominalFps)
    {
        var b = before.Counters[id];
        var a = after.Counters[id];
        long ingested = a.FramesIngested - b.FramesIngested;
        long processed = a.FramesProcessed - b.FramesProcessed;
        var (received, keyframes, inference, endToEnd) = recorder.Snapshot();
        double expected = nominalFps is double fps ? fps * seconds : ingested;
        return new StreamFigures(id, ingested / seconds, processed / seconds, received / seconds, expected > 0 ? processed / expected : 0,
            DropCounts.Between(before.Drops.GetValueOrDefault(id), after.Drops.GetValueOrDefault(id)),
            received > 0 ? keyframes / (double)received : 0, inference, endToEnd, recorder.LevelShares(), recorder.MeanComputeBudget(),
            StageTimes.MeanMsBetween(before.Stages.GetValueOrDefault(id), after.Stages.GetValueOrDefault(id)));
    }

    private sealed record Reading(DateTimeOffset At, double CpuSeconds, IReadOnlyDictionary<string, StreamCounters> Counters,
        IReadOnlyDictionary<string, Dictionary<string, long>> Drops, IReadOnlyDictionary<string, Dictionary<string, (double Seconds, long Count)>> Stages);

    private static async Task<Reading> ReadAsync(VisionService.VisionServiceClient client, HttpClient http, ServiceChild service, string[] ids,
        CancellationToken cancellationToken)
    {
        var at = DateTimeOffset.UtcNow;
        double cpu = ProcessCpu.TreeSeconds(service.Pid) is double s && !service.HasExited ? s
            : throw new InvalidOperationException($"the service (pid {service.Pid}) exited during the run; its output:\n{service.OutputTail}");
        var counters = new Dictionary<string, StreamCounters>(StringComparer.Ordinal);
        foreach (string id in ids)
        {
            var info = await client.GetStreamAsync(new GetStreamRequest { Id = id }, cancellationToken: cancellationToken).ConfigureAwait(false);
            counters[id] = info.Counters;
        }
        string exposition = await http.GetStringAsync("/metrics", cancellationToken).ConfigureAwait(false);
        return new Reading(at, cpu, counters, DropCounts.Parse(exposition), StageTimes.Parse(exposition));
    }

    /// <summary>The serve command line: loopback ports, N always-on streams of the source, warnings only, then the caller's
    /// extras (a <c>Streams:*:</c> key repeated for each stream).</summary>
    private static IEnumerable<string> ServeArguments(StreamsBenchSettings settings, string[] ids, int grpcPort, int metricsPort)
    {
        var inv = CultureInfo.InvariantCulture;
        string[] fixedArguments =
        [
            "--address", "127.0.0.1", "--grpc-port", grpcPort.ToString(inv), "--metrics-port", metricsPort.ToString(inv),
            "--Logging:LogLevel:Default=Warning", $"--StreamMtl:Limits:MaxStreams={Math.Max(16, ids.Length)}",
        ];
        var streams = ids.SelectMany((id, i) => new[]
        {
            $"--StreamMtl:Streams:{i}:Id={id}", $"--StreamMtl:Streams:{i}:Source={settings.Source}", $"--StreamMtl:Streams:{i}:AlwaysOn=true",
            $"--StreamMtl:Streams:{i}:Reuse:Dense={(settings.Dense ? "true" : "false")}",
        });
        // "Streams:*:" in a setting stands for every stream: --set StreamMtl:Streams:*:Reuse:RollingRefresh=true.
        var extras = settings.ServeArguments.SelectMany(a => a.Contains(":Streams:*:", StringComparison.Ordinal)
            ? ids.Select((_, i) => a.Replace(":Streams:*:", $":Streams:{i.ToString(inv)}:", StringComparison.Ordinal))
            : [a]);
        return [.. fixedArguments, .. streams, .. extras];
    }

    /// <summary>A CPU-bound neighbour: one thread spinning until disposed (a stand-in for a decoder, a renderer or a training job on one core).</summary>
    private sealed class BusyNeighbour : IDisposable
    {
        private volatile bool _stop;
        private readonly Thread _thread;

        public BusyNeighbour()
        {
            _thread = new Thread(Spin) { IsBackground = true, Name = "bench-neighbour" };
            _thread.Start();
        }

        private void Spin()
        {
            double x = 1;
            while (!_stop)
            {
                for (int i = 0; i < 100_000; i++)
                {
                    x = x * 1.0000001 + 1e-9;
                }
            }
            GC.KeepAlive(x);
        }

        public void Dispose()
        {
            _stop = true;
            _thread.Join();
        }
    }
}
