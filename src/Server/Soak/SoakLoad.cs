using System.Diagnostics;
using Grpc.Core;
using StreamMtl.Api.V1;
using Task = System.Threading.Tasks.Task;

namespace StreamMtl.Server.Soak;

/// <summary>
/// The soak's clients: one subscriber per stream (all tasks, every message read and counted) and one Process client that
/// sends a frame, waits for its result and paces itself to one frame per interval, opening a new call every few frames
/// (so the service sees calls begin and end, not one endless call). A call that fails is counted and made again a second later.
/// </summary>
public sealed class SoakLoad(VisionService.VisionServiceClient client, IReadOnlyList<SoakStream> streams)
{
    private static readonly TimeSpan RetryDelay = TimeSpan.FromSeconds(1);

    private readonly long[] _frames = new long[streams.Count];
    private readonly int[] _resubscribes = new int[streams.Count];
    private long _processReplies;
    private int _processCalls;
    private int _processErrors;
    private string? _lastError;

    public long FramesOf(int stream) => Interlocked.Read(ref _frames[stream]);

    public long ProcessReplies => Interlocked.Read(ref _processReplies);

    public ClientCounters Counters => new([.. Enumerable.Range(0, _resubscribes.Length).Select(i => Volatile.Read(ref _resubscribes[i]))], Volatile.Read(ref _processCalls),
        Volatile.Read(ref _processErrors), Volatile.Read(ref _lastError));

    /// <summary>Runs the subscribers and the Process client until <paramref name="cancellationToken"/> is cancelled.</summary>
    /// <param name="frames">Client frames the Process client cycles through.</param>
    public Task RunAsync(IReadOnlyList<ClientFrame> frames, TimeSpan interval, int framesPerCall, CancellationToken cancellationToken) =>
        Task.WhenAll(streams.Select((_, i) => SubscribeAsync(i, cancellationToken)).Append(ProcessAsync(frames, interval, framesPerCall, cancellationToken)));

    private async Task SubscribeAsync(int stream, CancellationToken cancellationToken)
    {
        string id = streams[stream].Id;
        while (await RetryAsync(async () =>
        {
            using var call = client.Subscribe(new SubscribeRequest { StreamId = id }, cancellationToken: cancellationToken);
            await foreach (var _ in call.ResponseStream.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                Interlocked.Increment(ref _frames[stream]);
            }
            throw new InvalidOperationException($"the subscription to '{id}' ended");
        }, () => Interlocked.Increment(ref _resubscribes[stream]), cancellationToken).ConfigureAwait(false))
        {
        }
    }

    private async Task ProcessAsync(IReadOnlyList<ClientFrame> frames, TimeSpan interval, int framesPerCall, CancellationToken cancellationToken)
    {
        long sent = 0;
        while (await RetryAsync(async () =>
        {
            using var call = client.Process(cancellationToken: cancellationToken);
            Interlocked.Increment(ref _processCalls);
            await call.RequestStream.WriteAsync(new ProcessRequest { Config = new ProcessConfig { StreamId = "soak-process" } }, cancellationToken).ConfigureAwait(false);
            for (int i = 0; i < framesPerCall; i++)
            {
                long start = Stopwatch.GetTimestamp();
                await call.RequestStream.WriteAsync(new ProcessRequest { Frame = frames[(int)(sent++ % frames.Count)] }, cancellationToken).ConfigureAwait(false);
                if (!await call.ResponseStream.MoveNext(cancellationToken).ConfigureAwait(false))
                {
                    throw new InvalidOperationException("the Process call ended before its result");
                }
                Interlocked.Increment(ref _processReplies);
                var left = interval - Stopwatch.GetElapsedTime(start);
                if (left > TimeSpan.Zero)
                {
                    await Task.Delay(left, cancellationToken).ConfigureAwait(false);
                }
            }
            await call.RequestStream.CompleteAsync().ConfigureAwait(false);
            if (await call.ResponseStream.MoveNext(cancellationToken).ConfigureAwait(false))
            {
                throw new InvalidOperationException("the Process call sent more results than frames");
            }
        }, () => Interlocked.Increment(ref _processErrors), cancellationToken).ConfigureAwait(false))
        {
        }
    }

    /// <summary>Runs one call; false once cancelled, true to go again (after a pause and <paramref name="failed"/> when it failed).</summary>
    private async Task<bool> RetryAsync(Func<Task> call, Action failed, CancellationToken cancellationToken)
    {
        try
        {
            await call().ConfigureAwait(false);
            return !cancellationToken.IsCancellationRequested;
        }
        catch (Exception) when (cancellationToken.IsCancellationRequested)
        {
            return false;
        }
        catch (Exception e) when (e is RpcException or InvalidOperationException)
        {
            failed();
            Volatile.Write(ref _lastError, e is RpcException rpc ? $"{rpc.StatusCode}: {rpc.Status.Detail}" : e.Message);
            try
            {
                await Task.Delay(RetryDelay, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return false;
            }
            return true;
        }
    }
}
