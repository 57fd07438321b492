using Grpc.Core;
using Microsoft.Extensions.Options;
using StreamMtl.Api.V1;
using Task = System.Threading.Tasks.Task;
using StreamMtl.Ingest.Synthetic;
using StreamMtl.Pipeline.Inference;
using StreamMtl.Pipeline.Model;
using StreamMtl.Pipeline.Results;
using StreamMtl.Pipeline.Streams;
using StreamMtl.Server.Configuration;
using StreamMtl.Server.Security;

namespace StreamMtl.Server.Service;

/// <summary>
/// Stream management and subscription as the gRPC API and the web view both serve them: one set of validation,
/// admission and budget rules; failures are thrown as <see cref="RpcException"/> with the API's status and message.
/// </summary>
public sealed class StreamCommands(StreamRegistry streams, InferenceEngine engine, SourcePolicy policy, CostLedger ledger, IOptions<ServiceOptions> options)
{
    private readonly ServiceOptions _options = options.Value;

    public async Task<StreamInfo> AddAsync(AddStreamRequest request, string client, CancellationToken cancellationToken)
    {
        var definition = await AdmitAsync(request, cancellationToken);
        var limits = _options.Limits;
        if (streams.Find(definition.Id) is null
            && ledger.TryCharge(definition.Id, client, StreamCost.Of(definition, limits)) is { } tooCostly)
        {
            throw ApiMapping.ToRpc(tooCostly);
        }
        var (stream, failure) = await streams.AddAsync(definition);
        if (stream is null)
        {
            if (failure!.Kind != FailureKind.AlreadyExists)
            {
                ledger.Release(definition.Id);
            }
            throw ApiMapping.ToRpc(failure);
        }
        return ApiMapping.ToApi(stream.Snapshot());
    }

    /// <summary>The request's checks (tasks, limits, reconnect policy, the source policy) without starting anything; refusals are thrown as the API's status.</summary>
    public async Task<StreamDefinition> AdmitAsync(AddStreamRequest request, CancellationToken cancellationToken)
    {
        var tasks = ApiMapping.ToSet(request.Tasks, out var taskError);
        if (taskError != null)
        {
            throw ApiMapping.Invalid(taskError);
        }
        var limits = _options.Limits;
        if (!(request.MaxFps >= 0 && request.MaxFps <= limits.MaxSourceFps))
        {
            throw ApiMapping.Invalid($"max_fps must be in 0..{limits.MaxSourceFps} (0 = the source's rate; Limits:MaxSourceFps), got {request.MaxFps}");
        }
        int width = request.Size?.Width ?? 0;
        int height = request.Size?.Height ?? 0;
        if (width < 0 || height < 0 || width > limits.MaxSourceWidth || height > limits.MaxSourceHeight || (width == 0) != (height == 0)
            || width % 2 != 0 || height % 2 != 0 || (width != 0 && (width < 16 || height < 16)))
        {
            throw ApiMapping.Invalid($"size must be even pixels in 16x16..{limits.MaxSourceWidth}x{limits.MaxSourceHeight} (Limits:MaxSource*), both or neither, got {width}x{height}");
        }
        var reconnect = ApiMapping.ToReconnect(request.Reconnect);
        if (reconnect.Validate() is { Count: > 0 } reconnectErrors)
        {
            throw ApiMapping.Invalid("invalid reconnect policy: " + string.Join("; ", reconnectErrors));
        }
        var definition = new StreamDefinition(request.Id, request.SourceUri, tasks == TaskSet.None ? engine.Model.Tasks : tasks,
            request.AlwaysOn, request.MaxFps, ApiMapping.ToReuse(request.Reuse), width, height,
            reconnect.IsDefault ? null : reconnect.ToSupervisor(_options.Pipeline.StallTimeout), Egress: policy);
        if (await StreamAdmission.CheckAsync(definition, engine.Model, policy, limits, trusted: false, cancellationToken) is { } refused)
        {
            throw ApiMapping.ToRpc(refused);
        }
        return definition;
    }

    public async Task RemoveAsync(string id)
    {
        if (!await streams.RemoveAsync(id))
        {
            throw ApiMapping.NotFound(id);
        }
        ledger.Release(id);
    }

    /// <summary>A new subscription to a running stream; the caller pumps it and unsubscribes it from the returned stream.</summary>
    public (CameraStream Stream, Subscriber Subscriber) Subscribe(SubscribeRequest request)
    {
        var stream = streams.Find(request.StreamId) ?? throw ApiMapping.NotFound(request.StreamId);
        var spec = ApiMapping.ToOutputSpec(request.Tasks, request.Encoding, request.OutputSize, stream.Definition.Tasks, engine.Model, _options.Limits,
            out var error) ?? throw ApiMapping.Invalid(error!);
        var status = stream.Status;
        if (status.State is Ingest.Supervision.StreamState.Failed or Ingest.Supervision.StreamState.Stopped)
        {
            throw new RpcException(new Status(StatusCode.Unavailable, $"stream '{stream.Id}' source is {status.State.ToString().ToLowerInvariant()}: {status.LastError}"));
        }
        if (status.State is Ingest.Supervision.StreamState.Backoff or Ingest.Supervision.StreamState.Stalled)
        {
            throw new RpcException(new Status(StatusCode.Unavailable, $"stream '{stream.Id}' source is reconnecting: {status.LastError}"));
        }
        var subscriber = stream.Subscribe(spec, _options.Limits.MaxSubscribersPerStream, out error)
            ?? throw new RpcException(new Status(StatusCode.ResourceExhausted, error!));
        return (stream, subscriber);
    }

    public ModelInfo ModelInfo()
    {
        var model = engine.Model;
        var info = new ModelInfo
        {
            BaseTask = ApiMapping.ToApi(model.Config.BaseTask),
            InputSize = new Api.V1.Size { Width = model.InputWidth, Height = model.InputHeight },
            SplitLayer = model.Config.SplitLayer,
            Patch = model.Config.Patch,
            Blocks = model.Config.Blocks,
            Version = model.Version,
            Precision = model.Precision,
        };
        info.Tasks.AddRange(model.Config.AllTasks.Select(ApiMapping.ToApi));
        for (int i = 0; i < model.Metadata.Classes.Length; i++)
        {
            var (r, g, b) = i < SyntheticClasses.Colors.Count ? SyntheticClasses.Colors[i] : ((byte)(37 * i), (byte)(91 * i), (byte)(151 * i));
            info.Classes.Add(new ClassInfo { Id = i, Name = model.Metadata.Classes[i], Color = (uint)(r << 16 | g << 8 | b) });
        }
        foreach (var (name, value) in model.Metadata.Metrics)
        {
            info.Metrics[name] = value;
        }
        return info;
    }
}
