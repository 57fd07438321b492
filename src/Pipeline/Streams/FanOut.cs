using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using StreamMtl.Pipeline.Inference;
using StreamMtl.Pipeline.Model;
using StreamMtl.Pipeline.Results;

namespace StreamMtl.Pipeline.Streams;

/// <summary>
/// A stream's subscribers and the fan-out stage: each processed frame is encoded once per distinct spec and offered to
/// that spec's subscriber queues; specs whose results never fit the message limit are ended instead of waiting forever.
/// </summary>
public sealed partial class FanOut(string streamId, int queueCapacity, IStreamMetrics metrics, TimeProvider time, ILogger logger, Action<string> drop)
{
    private readonly ConcurrentDictionary<long, Subscriber> _subscribers = new();

    /// <summary>Per spec, the outputs last encoded and the frame each was computed on (Deliver runs on the encoder task only).</summary>
    private readonly Dictionary<OutputSpec, Dictionary<VisionTask, (long ComputedOn, EncodedOutput Output)>> _lastOutputs = [];

    /// <summary>Oversized results in a row after which a subscriber is ended (one large frame is dropped, a spec that never fits is refused).</summary>
    public const int MaxOversizedInARow = 3;

    /// <summary>Largest encoded result handed to subscribers (the send limit).</summary>
    public int MaxMessageBytes { get; init; } = 4 * 1024 * 1024;

    /// <summary>The size a result takes on the wire, measured by the door that sends it; by default its payload plus 1 KiB.</summary>
    public Func<EncodedResult, int> MessageSize { get; init; } = EstimatedSize;

    /// <summary>A result's payload plus 1 KiB for the envelope, where no door measures its own format.</summary>
    public static int EstimatedSize(EncodedResult result) => (int)Math.Min(int.MaxValue, result.PayloadBytes + 1024);

    public int Count => _subscribers.Count;

    /// <summary>Called with the new count whenever a subscriber is added or removed (under the fan-out's lock: keep it short).</summary>
    public Action<int>? CountChanged { get; init; }

    /// <summary>The tasks some subscriber asked for.</summary>
    public TaskSet Tasks => _subscribers.Values.Aggregate(TaskSet.None, (set, s) => set | s.Spec.Tasks);

    /// <summary>Adds a subscriber; null with a reason when there are already <paramref name="max"/>.</summary>
    public Subscriber? Add(OutputSpec spec, int max, out string? error)
    {
        error = null;
        lock (_subscribers)
        {
            if (_subscribers.Count >= max)
            {
                error = $"stream '{streamId}' already has {max} subscribers";
                return null;
            }
            var subscriber = new Subscriber(spec, queueCapacity, () => drop("subscriber_slow"));
            _subscribers[subscriber.Id] = subscriber;
            Counted(_subscribers.Count);
            return subscriber;
        }
    }

    /// <summary>Ends a subscription from the subscriber's side; <paramref name="reason"/> (if any) is counted.</summary>
    public void Remove(Subscriber subscriber, string? reason)
    {
        if (_subscribers.TryRemove(subscriber.Id, out _))
        {
            subscriber.Complete();
            Counted(_subscribers.Count);
            if (reason != null)
            {
                metrics.SubscriberEnded(streamId, reason);
            }
        }
    }

    /// <summary>Ends every subscription (with <paramref name="failure"/>, or OK when null).</summary>
    public void CompleteAll(Failure? failure)
    {
        foreach (var subscriber in _subscribers.Values)
        {
            _subscribers.TryRemove(subscriber.Id, out _);
            subscriber.Complete(failure);
        }
        Counted(0);
    }

    /// <summary>Encodes a processed frame once per spec and offers it to that spec's subscribers.</summary>
    public void Deliver(InferenceOutput output)
    {
        var capture = output.Job.Input.CaptureTime;
        var groups = _subscribers.Values.GroupBy(s => s.Spec).ToList();
        foreach (var gone in _lastOutputs.Keys.Where(spec => !groups.Any(g => g.Key == spec)).ToList())
        {
            _lastOutputs.Remove(gone);
        }
        foreach (var group in groups)
        {
            if (!output.Job.Tasks.HasFlag(group.Key.Tasks))
            {
                // Subscribed after this frame's tasks were chosen: it starts with the next frame rather than get a result missing its tasks.
                continue;
            }
            var result = ResultStage.Encode(metrics, streamId, output, group.Key, _lastOutputs.GetValueOrDefault(group.Key));
            var accounting = output.Analysis!.Accounting;
            _lastOutputs[group.Key] = result.Outputs.ToDictionary(o => o.Task, o => (accounting.ComputedOn(o.Task, result.FrameIndex), o));
            int size = MessageSize(result);
            if (size > MaxMessageBytes)
            {
                drop("error");
                Log.ResultTooLarge(logger, streamId, size);
                EndOversized(group, size);
                continue;
            }
            var latency = time.GetUtcNow() - capture;
            metrics.EndToEnd(streamId, latency > TimeSpan.Zero ? latency : TimeSpan.Zero);
            foreach (var subscriber in group)
            {
                subscriber.Offer(result);
            }
        }
    }

    /// <summary>
    /// A spec whose results keep exceeding the send limit would never get a result: without ending it, its subscriber waits
    /// forever (no write, so no write timeout) while every frame is computed and encoded at full size for nothing.
    /// </summary>
    private void EndOversized(IEnumerable<Subscriber> group, int size)
    {
        foreach (var subscriber in group)
        {
            if (subscriber.CountOversized() < MaxOversizedInARow || !_subscribers.TryRemove(subscriber.Id, out _))
            {
                continue;
            }
            subscriber.Complete(new Failure(FailureKind.ResourceExhausted,
                $"results of {size} bytes exceed the {MaxMessageBytes}-byte message limit: request a smaller output size, fewer tasks or PNG encodings"));
            Counted(_subscribers.Count);
            metrics.SubscriberEnded(streamId, "result_too_large");
        }
    }

    private void Counted(int count)
    {
        metrics.SubscriberCount(streamId, count);
        CountChanged?.Invoke(count);
    }

    private static partial class Log
    {
        [LoggerMessage(13, LogLevel.Warning, "Stream {Stream}: result of {Bytes} bytes over the message limit dropped")]
        public static partial void ResultTooLarge(ILogger logger, string stream, int bytes);
    }
}
