using Grpc.Core;
using StreamMtl.Api.V1;
using StreamMtl.Pipeline.Model;
using StreamMtl.Pipeline.Results;
using StreamMtl.Server.Service;
using ComputeLevel = StreamMtl.Api.V1.ComputeLevel;
using Task = System.Threading.Tasks.Task;

namespace StreamMtl.Server.Capacity;

/// <summary>
/// A stream's subscriber in a capacity run: reads every result (all tasks, default encoding like a real client, or the
/// <paramref name="encoding"/> given, e.g. <c>skip_unchanged</c>) and, while
/// <see cref="Measuring"/>, keeps each result's inference time, end-to-end latency (capture to receipt) and keyframe flag, and
/// with <paramref name="keepOutputs"/> above 0 the outputs of up to that many results (for <see cref="DeliveredTruth"/>).
/// </summary>
public sealed class ResultRecorder(string streamId, Encoding? encoding = null, int keepOutputs = 0)
{
    private readonly List<KeptResult> _kept = [];
    private long _notKept;
    private readonly Lock _gate = new();
    private readonly List<double> _inferenceMs = [];
    private readonly List<double> _endToEndMs = [];
    private long _received;
    private long _keyframes;
    private readonly long[] _levels = new long[ComputeLevels.All.Count];
    private double _budgetSum;
    private volatile bool _measuring;

    public string StreamId { get; } = streamId;

    /// <summary>The subscription's error, when it ended other than by cancellation.</summary>
    public string? Error { get; private set; }

    public bool Measuring
    {
        get => _measuring;
        set => _measuring = value;
    }

    /// <summary>Subscribes and records until <paramref name="cancellationToken"/> is cancelled; an ended or failed subscription is kept in <see cref="Error"/>.</summary>
    public async Task RunAsync(VisionService.VisionServiceClient client, CancellationToken cancellationToken)
    {
        try
        {
            var request = new SubscribeRequest { StreamId = StreamId, Encoding = encoding };
            using var call = client.Subscribe(request, cancellationToken: cancellationToken);
            await foreach (var result in call.ResponseStream.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                Record(result, DateTimeOffset.UtcNow);
            }
            Error = "the subscription ended";
        }
        catch (Exception) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (RpcException e)
        {
            Error = $"{e.StatusCode}: {e.Status.Detail}";
        }
    }

    /// <summary>Counts one result received at <paramref name="receivedAt"/> (only while measuring).</summary>
    public void Record(FrameResult result, DateTimeOffset receivedAt)
    {
        if (!_measuring)
        {
            return;
        }
        var inference = result.Timings.FirstOrDefault(t => t.Stage == "inference");
        lock (_gate)
        {
            _received++;
            if (result.Accounting?.Keyframe == true)
            {
                _keyframes++;
            }
            _levels[Math.Clamp((int)ApiMapping.ToLevel(result.Accounting?.ComputeLevel ?? ComputeLevel.Unspecified), 0, _levels.Length - 1)]++;
            // 0 is the field's unset value: a service or runner without compute budgets ran every block.
            double budget = result.Accounting?.ComputeBudget ?? 0;
            _budgetSum += budget > 0 ? budget : 1;
            if (inference != null)
            {
                _inferenceMs.Add(inference.Seconds * 1000);
            }
            if (result.CaptureTime != null)
            {
                _endToEndMs.Add((receivedAt - result.CaptureTime.ToDateTimeOffset()).TotalMilliseconds);
            }
            if (_kept.Count < keepOutputs)
            {
                _kept.Add(new KeptResult(result.FrameIndex, [.. result.Outputs]));
            }
            else if (keepOutputs > 0)
            {
                _notKept++;
            }
        }
    }

    /// <summary>The results whose outputs were kept, and how many more arrived past the bound.</summary>
    public (IReadOnlyList<KeptResult> Kept, long NotKept) KeptOutputs()
    {
        lock (_gate)
        {
            return ([.. _kept], _notKept);
        }
    }

    /// <summary>Received results by compute level (full, reduced, minimal, lean, coarse; unspecified counts as full) over all received.</summary>
    public IReadOnlyDictionary<string, double> LevelShares()
    {
        lock (_gate)
        {
            double total = Math.Max(1, _received);
            return ComputeLevels.All.ToDictionary(ComputeLevels.Name, level => _levels[(int)level] / total);
        }
    }

    /// <summary>The mean compute budget of the received results (1 when none were received or none carried one).</summary>
    public double MeanComputeBudget()
    {
        lock (_gate)
        {
            return _received == 0 ? 1 : _budgetSum / _received;
        }
    }

    /// <summary>What was recorded: results, keyframes, inference and end-to-end times in ms.</summary>
    public (long Received, long Keyframes, Percentiles InferenceMs, Percentiles EndToEndMs) Snapshot()
    {
        lock (_gate)
        {
            return (_received, _keyframes, Percentiles.Of(_inferenceMs), Percentiles.Of(_endToEndMs));
        }
    }
}
