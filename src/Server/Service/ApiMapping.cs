using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using StreamMtl.Pipeline.Inference;
using StreamMtl.Pipeline.Model;
using StreamMtl.Pipeline.Results;
using StreamMtl.Pipeline.Runners;
using StreamMtl.Pipeline.Streams;
using StreamMtl.Server.Configuration;
using V1 = StreamMtl.Api.V1;
using StreamState = StreamMtl.Ingest.Supervision.StreamState;

namespace StreamMtl.Server.Service;

/// <summary>
/// The one place where the API (protos/streammtl.proto) meets the domain: requests become validated domain values,
/// domain values become messages, and the domain's failures become status codes.
/// </summary>
public static class ApiMapping
{
    public static TaskSet ToSet(IEnumerable<V1.Task> tasks, out string? error)
    {
        error = null;
        var set = TaskSet.None;
        foreach (var task in tasks)
        {
            if (!TryMap(task, out var vision))
            {
                error = $"unknown task {task} ({(int)task})";
                return TaskSet.None;
            }
            set |= vision.ToSet();
        }
        return set;
    }

    public static bool TryMap(V1.Task task, out VisionTask vision)
    {
        switch (task)
        {
            case V1.Task.Segmentation: vision = VisionTask.Segmentation; return true;
            case V1.Task.Depth: vision = VisionTask.Depth; return true;
            case V1.Task.Normals: vision = VisionTask.Normals; return true;
            default: vision = default; return false;
        }
    }

    public static V1.Task ToApi(VisionTask task) => task switch
    {
        VisionTask.Segmentation => V1.Task.Segmentation,
        VisionTask.Depth => V1.Task.Depth,
        VisionTask.Normals => V1.Task.Normals,
        _ => V1.Task.Unspecified,
    };

    public static IEnumerable<V1.Task> ToApi(TaskSet set) => set.Tasks().Select(ToApi);

    /// <summary>API reuse settings over the defaults; the caller validates the result.</summary>
    public static ReuseSettings ToReuse(V1.ReuseSettings? reuse)
    {
        var settings = ReuseSettings.Default;
        if (reuse == null)
        {
            return settings;
        }
        return settings with
        {
            Dense = reuse.Dense,
            Threshold = reuse.Threshold ?? settings.Threshold,
            Budget = reuse.Budget ?? settings.Budget,
            KeyframeInterval = reuse.KeyframeInterval ?? settings.KeyframeInterval,
            SceneCutLimit = reuse.SceneCutLimit ?? settings.SceneCutLimit,
            ShareThreshold = reuse.ShareThreshold ?? settings.ShareThreshold,
            MaxIndexStep = reuse.MaxIndexStep ?? settings.MaxIndexStep,
            RollingRefresh = reuse.RollingRefresh ?? settings.RollingRefresh,
            Level = reuse.Level == V1.ComputeLevel.Unspecified ? settings.Level : ToLevel(reuse.Level),
            Adaptive = reuse.Adaptive,
            Floor = reuse.Floor == V1.ComputeLevel.Unspecified ? settings.Floor : ToLevel(reuse.Floor),
            ComputeBudget = reuse.ComputeBudget ?? settings.ComputeBudget,
            ComputeBudgetFloor = reuse.ComputeBudgetFloor ?? settings.ComputeBudgetFloor,
            FullKeyframes = reuse.FullKeyframes ?? settings.FullKeyframes,
        };
    }

    /// <summary>An API level; an unknown number keeps its number, outside the domain's levels (0..4), so validation names it.</summary>
    public static ComputeLevel ToLevel(V1.ComputeLevel level) => level switch
    {
        V1.ComputeLevel.Full => ComputeLevel.Full,
        V1.ComputeLevel.Reduced => ComputeLevel.Reduced,
        V1.ComputeLevel.Minimal => ComputeLevel.Minimal,
        V1.ComputeLevel.Lean => ComputeLevel.Lean,
        V1.ComputeLevel.Coarse => ComputeLevel.Coarse,
        _ => (ComputeLevel)(int)level,
    };

    public static V1.ComputeLevel ToApi(ComputeLevel level) => level switch
    {
        ComputeLevel.Full => V1.ComputeLevel.Full,
        ComputeLevel.Reduced => V1.ComputeLevel.Reduced,
        ComputeLevel.Minimal => V1.ComputeLevel.Minimal,
        ComputeLevel.Lean => V1.ComputeLevel.Lean,
        ComputeLevel.Coarse => V1.ComputeLevel.Coarse,
        _ => V1.ComputeLevel.Unspecified,
    };

    /// <summary>An API reconnect policy (seconds, 0 = default); the caller validates the result. NaN and infinities are out of range.</summary>
    public static ReconnectOptions ToReconnect(V1.ReconnectPolicy? policy)
    {
        if (policy == null)
        {
            return new ReconnectOptions();
        }
        static TimeSpan? Seconds(double s) => s == 0 ? null : double.IsFinite(s) && Math.Abs(s) < 1e6 ? TimeSpan.FromSeconds(s) : TimeSpan.MaxValue;
        return new ReconnectOptions
        {
            StallTimeout = Seconds(policy.StallTimeoutS),
            ConnectTimeout = Seconds(policy.ConnectTimeoutS),
            BackoffInitial = Seconds(policy.BackoffInitialS),
            BackoffMax = Seconds(policy.BackoffMaxS),
            FastRetryWindow = Seconds(policy.FastRetryWindowS),
            FastRetryMax = Seconds(policy.FastRetryMaxS),
        };
    }

    /// <summary>Builds an output spec from API fields; the error says what is wrong (InvalidArgument) or is null.</summary>
    public static OutputSpec? ToOutputSpec(IEnumerable<V1.Task> tasks, V1.Encoding? encoding, V1.Size? size, TaskSet allowed,
        LoadedModel model, LimitOptions limits, out string? error)
    {
        error = null;
        var set = ToSet(tasks, out var badTask);
        if (badTask != null)
        {
            error = badTask;
            return null;
        }
        if (set == TaskSet.None)
        {
            set = allowed;
        }
        if ((set & ~allowed) != TaskSet.None)
        {
            error = $"tasks {(set & ~allowed).Describe()} are not served here (available: {allowed.Describe()})";
            return null;
        }
        encoding ??= new V1.Encoding();
        var depth = encoding.Depth == V1.OutputFormat.Unspecified ? V1.OutputFormat.Png16Depth : encoding.Depth;
        if (depth is not (V1.OutputFormat.Png16Depth or V1.OutputFormat.Float16))
        {
            error = $"depth encoding must be PNG16_DEPTH or FLOAT16, got {encoding.Depth}";
            return null;
        }
        var normals = encoding.Normals == V1.OutputFormat.Unspecified ? V1.OutputFormat.PngRgb8Normals : encoding.Normals;
        if (normals is not (V1.OutputFormat.PngRgb8Normals or V1.OutputFormat.Float16))
        {
            error = $"normals encoding must be PNG_RGB8_NORMALS or FLOAT16, got {encoding.Normals}";
            return null;
        }
        float scale = encoding.DepthScale == 0 ? OutputSpec.DefaultDepthScale : encoding.DepthScale;
        if (!(scale > 0) || float.IsInfinity(scale))
        {
            error = $"depth_scale must be a positive number of metres per unit, got {encoding.DepthScale}";
            return null;
        }
        int quality = encoding.InputJpegQuality == 0 ? 80 : encoding.InputJpegQuality;
        if (quality is < 1 or > 100)
        {
            error = $"input_jpeg_quality must be in 1..100, got {encoding.InputJpegQuality}";
            return null;
        }
        int width = size == null || (size.Width == 0 && size.Height == 0) ? model.InputWidth : size.Width;
        int height = size == null || (size.Width == 0 && size.Height == 0) ? model.InputHeight : size.Height;
        if (width < 16 || height < 16 || width > limits.MaxOutputWidth || height > limits.MaxOutputHeight)
        {
            error = $"output size {width}x{height} must be within 16x16..{limits.MaxOutputWidth}x{limits.MaxOutputHeight}";
            return null;
        }
        if (encoding.PngCompression is not (V1.PngCompression.Unspecified or V1.PngCompression.Fast or V1.PngCompression.None))
        {
            error = $"png_compression must be FAST or NONE, got {encoding.PngCompression}";
            return null;
        }
        bool stored = encoding.PngCompression == V1.PngCompression.None;
        var spec = new OutputSpec(set, ToDomain(depth), ToDomain(normals), scale, encoding.IncludeInput, quality, width, height, stored);
        long raw = spec.RawBytes();
        if (raw > limits.MaxSendMessageBytes * 0.9)
        {
            error = stored
                ? $"uncompressed outputs (float16, png_compression NONE) at {width}x{height} take {raw} bytes, over the {limits.MaxSendMessageBytes}-byte message limit: use compressed PNGs or a smaller output size"
                : $"raw float16 outputs at {width}x{height} take {raw} bytes, over the {limits.MaxSendMessageBytes}-byte message limit: use PNG encodings or a smaller output size";
            return null;
        }
        return spec;
    }

    private static PayloadFormat ToDomain(V1.OutputFormat format) => format switch
    {
        V1.OutputFormat.PngLabels => PayloadFormat.PngLabels,
        V1.OutputFormat.Png16Depth => PayloadFormat.Png16Depth,
        V1.OutputFormat.PngRgb8Normals => PayloadFormat.PngRgb8Normals,
        V1.OutputFormat.Float16 => PayloadFormat.Float16,
        _ => throw new ArgumentOutOfRangeException(nameof(format), format, "no payload format"),
    };

    private static V1.OutputFormat ToApi(PayloadFormat format) => format switch
    {
        PayloadFormat.PngLabels => V1.OutputFormat.PngLabels,
        PayloadFormat.Png16Depth => V1.OutputFormat.Png16Depth,
        PayloadFormat.PngRgb8Normals => V1.OutputFormat.PngRgb8Normals,
        PayloadFormat.Float16 => V1.OutputFormat.Float16,
        _ => V1.OutputFormat.Unspecified,
    };

    /// <summary>One result as a message; the payload bytes are wrapped, not copied.</summary>
    public static V1.FrameResult ToApi(EncodedResult result, long droppedForSubscriber)
    {
        var message = new V1.FrameResult
        {
            StreamId = result.StreamId,
            FrameIndex = result.FrameIndex,
            CaptureTime = Timestamp.FromDateTimeOffset(result.CaptureTime),
            Accounting = ToApi(result.Accounting),
            DroppedForSubscriber = droppedForSubscriber,
        };
        message.Timings.AddRange(result.Timings.Select(t => new V1.StageTiming { Stage = t.Stage, Seconds = t.Elapsed.TotalSeconds }));
        message.Outputs.AddRange(result.Outputs.Select(o => new V1.TaskOutput
        {
            Task = ToApi(o.Task),
            Format = ToApi(o.Format),
            Width = o.Width,
            Height = o.Height,
            Scale = o.Scale,
            Data = UnsafeByteOperations.UnsafeWrap(o.Data),
            ComputedOnFrame = result.Accounting.ComputedOn(o.Task, result.FrameIndex),
        }));
        if (result.InputJpeg != null)
        {
            message.InputJpeg = UnsafeByteOperations.UnsafeWrap(result.InputJpeg);
        }
        return message;
    }

    /// <summary>The size of <paramref name="result"/> as a message on the wire.</summary>
    public static int MessageSize(EncodedResult result) => ToApi(result, 0).CalculateSize();

    public static V1.Accounting ToApi(FrameAccounting a)
    {
        var accounting = new V1.Accounting
        {
            FlopsSavedRatio = a.SavedRatio,
            TokensRecomputed = a.Tokens.Sum(t => (long)t.Recomputed),
            TokensTotal = a.Tokens.Sum(t => (long)t.Total),
            Keyframe = a.Keyframe,
            KeyframeReason = a.KeyframeReason ?? "",
            ComputeLevel = ToApi(a.Level),
            ComputeBudget = a.ComputeBudget,
            UnitFraction = a.UnitFraction,
        };
        accounting.HeldTasks.AddRange(ToApi(a.HeldTasks));
        accounting.SkippedUnits.AddRange(a.SkippedUnits);
        foreach (var (task, dense) in a.DenseFlops.OrderBy(kv => kv.Key))
        {
            accounting.Flops.Add(new V1.TaskFlops { Task = ToApi(task), Dense = dense, Executed = a.ExecutedFlops.GetValueOrDefault(task) });
        }
        return accounting;
    }

    public static V1.StreamInfo ToApi(StreamSnapshot snapshot)
    {
        var status = snapshot.Status;
        var info = new V1.StreamInfo
        {
            Id = snapshot.Definition.Id,
            SourceUri = status.DisplayUri,
            State = status.State switch
            {
                StreamState.Connecting => V1.StreamState.Connecting,
                StreamState.Running => V1.StreamState.Running,
                StreamState.Stalled => V1.StreamState.Stalled,
                StreamState.Backoff => V1.StreamState.Backoff,
                StreamState.Stopped => V1.StreamState.Stopped,
                StreamState.Failed => V1.StreamState.Failed,
                StreamState.Idle => V1.StreamState.Idle,
                _ => V1.StreamState.Unspecified,
            },
            StateSince = Timestamp.FromDateTimeOffset(status.StateSince),
            LastError = status.LastError ?? "",
            AlwaysOn = snapshot.Definition.AlwaysOn,
            Subscribers = snapshot.Subscribers,
            Counters = new V1.StreamCounters
            {
                FramesIngested = snapshot.FramesIngested,
                FramesProcessed = snapshot.FramesProcessed,
                FramesDropped = snapshot.FramesDropped,
                Reconnects = status.Reconnects,
                Stalls = status.Stalls,
            },
        };
        if (status.LastFrameAt is { } last)
        {
            info.LastFrameTime = Timestamp.FromDateTimeOffset(last);
        }
        info.Tasks.AddRange(ToApi(snapshot.Definition.Tasks));
        return info;
    }

    public static RpcException ToRpc(Failure failure) => new(new Status(failure.Kind switch
    {
        FailureKind.InvalidArgument => StatusCode.InvalidArgument,
        FailureKind.NotFound => StatusCode.NotFound,
        FailureKind.AlreadyExists => StatusCode.AlreadyExists,
        FailureKind.ResourceExhausted => StatusCode.ResourceExhausted,
        FailureKind.Unavailable => StatusCode.Unavailable,
        FailureKind.DeadlineExceeded => StatusCode.DeadlineExceeded,
        _ => StatusCode.Internal,
    }, failure.Message));

    public static RpcException Invalid(string message) => new(new Status(StatusCode.InvalidArgument, message));

    public static RpcException NotFound(string id) => new(new Status(StatusCode.NotFound, $"no stream '{Security.InputText.Echo(id)}'"));
}
