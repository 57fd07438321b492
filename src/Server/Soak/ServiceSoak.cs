using System.Diagnostics;
using System.Globalization;
using Google.Protobuf;
using Grpc.Net.Client;
using OpenCvSharp;
using StreamMtl.Api.V1;
using Task = System.Threading.Tasks.Task;
using StreamMtl.Ingest.Synthetic;

namespace StreamMtl.Server.Soak;

/// <summary>
/// Soaks the real service: starts <c>streammtl serve</c> as a child process with the soak's streams, runs <see cref="SoakLoad"/>
/// against it, and samples the child's RSS, file descriptors and threads (from /proc) with the clients' counts. The child is
/// killed on every way out (end, error, cancellation).
/// </summary>
public static class ServiceSoak
{
    /// <summary>Process frames differ (a moving synthetic camera), so temporal reuse cannot skip the work of a repeated frame.</summary>
    private const int DistinctProcessFrames = 4;

    /// <summary>Runs the soak. Cancelled after at least one sample, it returns what it has; before, it throws <see cref="OperationCanceledException"/>.</summary>
    /// <param name="started">Called with the service's process id once it listens.</param>
    /// <exception cref="InvalidOperationException">The service did not start, or exited during the soak (its output is in the message).</exception>
    public static async Task<ServiceSoakResult> RunAsync(ServiceSoakSettings settings, Action<int>? started = null, Action<ServiceSample>? sampled = null,
        CancellationToken cancellationToken = default)
    {
        var frames = ProcessFrames(settings.ProcessWidth, settings.ProcessHeight);
        int grpcPort = ServiceChild.FreeLoopbackPort();
        await using var service = await ServiceChild.StartAsync(settings.DotnetHost, settings.ServerDll, ServeArguments(settings, grpcPort, ServiceChild.FreeLoopbackPort()),
            settings.StartTimeout, cancellationToken).ConfigureAwait(false);
        started?.Invoke(service.Pid);
        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{grpcPort}");
        var load = new SoakLoad(new VisionService.VisionServiceClient(channel), settings.Streams);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var clients = load.RunAsync(frames, settings.ProcessInterval, settings.FramesPerProcessCall, stop.Token);
        var samples = new List<ServiceSample>();
        var watch = Stopwatch.StartNew();
        try
        {
            for (var due = settings.SampleEvery; ; due += settings.SampleEvery)
            {
                due = due < settings.Duration ? due : settings.Duration;
                // A timer may fire a hair before the stopwatch reaches its time: a sample is never taken before it is due.
                while (watch.Elapsed < due)
                {
                    await Task.Delay(due - watch.Elapsed, cancellationToken).ConfigureAwait(false);
                }
                var figures = ProcessFigures.Read(service.Pid) is { } read && !service.HasExited ? read
                    : throw new InvalidOperationException($"the service (pid {service.Pid}) exited during the soak; its output:\n{service.OutputTail}");
                var sample = new ServiceSample(watch.Elapsed, figures.RssBytes, figures.FileDescriptors, figures.Threads,
                    [.. settings.Streams.Select((_, i) => load.FramesOf(i))], load.ProcessReplies);
                samples.Add(sample);
                sampled?.Invoke(sample);
                if (due == settings.Duration)
                {
                    break;
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested && samples.Count > 0)
        {
            // Interrupted: the samples so far are the result.
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
            await clients.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
        // The planned length once reached (the warm-up rule reads it; the last sample lands a hair after it), else how far it got.
        var ran = TimeSpan.FromTicks(Math.Min(watch.Elapsed.Ticks, settings.Duration.Ticks));
        return new ServiceSoakResult(settings.Streams, ran, samples, service.Pid, load.Counters);
    }

    /// <summary>The serve command line: loopback ports, the streams as declared streams (always on), warnings only, then the caller's extras.</summary>
    private static IEnumerable<string> ServeArguments(ServiceSoakSettings settings, int grpcPort, int metricsPort)
    {
        string[] fixedArguments =
        [
            "--address", "127.0.0.1", "--grpc-port", grpcPort.ToString(CultureInfo.InvariantCulture),
            "--metrics-port", metricsPort.ToString(CultureInfo.InvariantCulture), "--Logging:LogLevel:Default=Warning",
        ];
        var streams = settings.Streams.SelectMany((s, i) => new[]
        {
            $"--StreamMtl:Streams:{i}:Id={s.Id}", $"--StreamMtl:Streams:{i}:Source={s.Source}", $"--StreamMtl:Streams:{i}:AlwaysOn=true",
        });
        return [.. fixedArguments, .. streams, .. settings.ServeArguments];
    }

    /// <summary>PNG frames of a moving synthetic scene at the given size, ready to send.</summary>
    private static List<ClientFrame> ProcessFrames(int width, int height)
    {
        var camera = new SyntheticCamera(SyntheticSpec.Parse($"synthetic://moving?seed=5&w={width}&h={height}&fps=15"));
        return [.. Enumerable.Range(0, DistinctProcessFrames).Select(i =>
        {
            using var frame = camera.RenderFrame(i * 15L, false);
            return new ClientFrame { Data = ByteString.CopyFrom(frame.Image.ImEncode(".png")), Format = FrameFormat.Png, Width = width, Height = height };
        })];
    }

}
