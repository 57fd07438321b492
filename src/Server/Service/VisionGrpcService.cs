using Grpc.Core;
using Microsoft.Extensions.Options;
using StreamMtl.Api.V1;
using StreamMtl.Ingest.Synthetic;
using StreamMtl.Pipeline.Model;
using StreamMtl.Ingest.Sources;
using StreamMtl.Pipeline.Inference;
using StreamMtl.Pipeline.Results;
using StreamMtl.Pipeline.Streams;
using StreamMtl.Server.Configuration;
using StreamMtl.Server.Metrics;
using StreamMtl.Server.Security;

namespace StreamMtl.Server.Service;

/// <summary>The streammtl.v1.VisionService endpoints: stream management, Subscribe, Process and model info.</summary>
public sealed class VisionGrpcService(StreamRegistry streams, InferenceEngine engine, ServerMetrics metrics, ProcessSessions sessions,
    SourcePolicy policy, CostLedger ledger, IOptions<ServiceOptions> options, TimeProvider time) : VisionService.VisionServiceBase
{
    private readonly ServiceOptions _options = options.Value;

    public override async System.Threading.Tasks.Task<StreamInfo> AddStream(AddStreamRequest request, ServerCallContext context)
    {
        var tasks = ApiMapping.ToSet(request.Tasks, out var taskError);
        if (taskError != null)
        {
            throw Invalid(taskError);
        }
        var limits = _options.Limits;
        if (!(request.MaxFps >= 0 && request.MaxFps <= limits.MaxSourceFps))
        {
            throw Invalid($"max_fps must be in 0..{limits.MaxSourceFps} (0 = the source's rate; Limits:MaxSourceFps), got {request.MaxFps}");
        }
        int width = request.Size?.Width ?? 0;
        int height = request.Size?.Height ?? 0;
        if (width < 0 || height < 0 || width > limits.MaxSourceWidth || height > limits.MaxSourceHeight || (width == 0) != (height == 0)
            || width % 2 != 0 || height % 2 != 0 || (width != 0 && (width < 16 || height < 16)))
        {
            throw Invalid($"size must be even pixels in 16x16..{limits.MaxSourceWidth}x{limits.MaxSourceHeight} (Limits:MaxSource*), both or neither, got {width}x{height}");
        }
        var reconnect = ApiMapping.ToReconnect(request.Reconnect);
        if (reconnect.Validate() is { Count: > 0 } reconnectErrors)
        {
            throw Invalid("invalid reconnect policy: " + string.Join("; ", reconnectErrors));
        }
        var definition = new StreamDefinition(request.Id, request.SourceUri, tasks == TaskSet.None ? engine.Model.Tasks : tasks,
            request.AlwaysOn, request.MaxFps, ApiMapping.ToReuse(request.Reuse), width, height,
            reconnect.IsDefault ? null : reconnect.ToSupervisor(_options.Pipeline.StallTimeout), Egress: policy);
        if (await StreamAdmission.CheckAsync(definition, engine.Model, policy, limits, trusted: false, context.CancellationToken) is { } refused)
        {
            throw ApiMapping.ToRpc(refused);
        }
        if (streams.Find(definition.Id) is null
            && ledger.TryCharge(definition.Id, Client(context), StreamCost.Of(definition, limits)) is { } tooCostly)
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

    public override async System.Threading.Tasks.Task<RemoveStreamResponse> RemoveStream(RemoveStreamRequest request, ServerCallContext context)
    {
        if (!await streams.RemoveAsync(request.Id))
        {
            throw NotFound(request.Id);
        }
        ledger.Release(request.Id);
        return new RemoveStreamResponse();
    }

    public override System.Threading.Tasks.Task<ListStreamsResponse> ListStreams(ListStreamsRequest request, ServerCallContext context)
    {
        var response = new ListStreamsResponse();
        response.Streams.AddRange(streams.All.Select(s => ApiMapping.ToApi(s.Snapshot())));
        return System.Threading.Tasks.Task.FromResult(response);
    }

    public override System.Threading.Tasks.Task<StreamInfo> GetStream(GetStreamRequest request, ServerCallContext context) =>
        System.Threading.Tasks.Task.FromResult(ApiMapping.ToApi((streams.Find(request.Id) ?? throw NotFound(request.Id)).Snapshot()));

    public override async System.Threading.Tasks.Task Subscribe(SubscribeRequest request, IServerStreamWriter<FrameResult> responseStream,
        ServerCallContext context)
    {
        var stream = streams.Find(request.StreamId) ?? throw NotFound(request.StreamId);
        var spec = ApiMapping.ToOutputSpec(request.Tasks, request.Encoding, request.OutputSize, stream.Definition.Tasks, engine.Model, _options.Limits,
            out var error) ?? throw Invalid(error!);
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
        string? reason = "client_gone";
        try
        {
            await subscriber.PumpAsync(async (result, dropped, cancellationToken) =>
            {
                var message = ApiMapping.ToApi(result, dropped);
                await responseStream.WriteAsync(message, cancellationToken);
                Sent(stream.Id, message);
            }, _options.Pipeline.WriteTimeout, time, context.CancellationToken);
            reason = null;
        }
        catch (PipelineException e)
        {
            if (e.Failure.Kind == FailureKind.DeadlineExceeded)
            {
                reason = "write_timeout";
            }
            throw ApiMapping.ToRpc(e.Failure);
        }
        catch (Exception e) when (context.CancellationToken.IsCancellationRequested
            && e is OperationCanceledException or ObjectDisposedException or IOException or InvalidOperationException)
        {
            // The client went away mid-write: Kestrel may fail the write with any of these once the request is aborted.
        }
        finally
        {
            stream.Unsubscribe(subscriber, reason);
        }
    }

    public override System.Threading.Tasks.Task Process(IAsyncStreamReader<ProcessRequest> requestStream, IServerStreamWriter<FrameResult> responseStream,
        ServerCallContext context) =>
        new ProcessCall(engine, metrics, sessions, _options, time).RunAsync(Client(context), requestStream, responseStream, context.CancellationToken);

    private string Client(ServerCallContext context) => ClientIdentity.Of(context.GetHttpContext(), _options.Security.ApiKeyHeader);

    public override System.Threading.Tasks.Task<ModelInfo> GetModelInfo(GetModelInfoRequest request, ServerCallContext context)
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
        return System.Threading.Tasks.Task.FromResult(info);
    }

    private void Sent(string stream, FrameResult result)
    {
        metrics.ResultsSent.WithLabels(stream).Inc();
        metrics.ResultBytes.WithLabels(stream).Inc(result.CalculateSize());
    }

    private static RpcException Invalid(string message) => ApiMapping.Invalid(message);

    private static RpcException NotFound(string id) => ApiMapping.NotFound(id);
}
