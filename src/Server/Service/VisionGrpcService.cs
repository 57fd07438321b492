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
/// <remarks>
/// On a cluster node (<paramref name="cluster"/> set) stream management and Subscribe cover every stream of the cluster
/// (<see cref="IClusterFrontDoor"/>); a call another node forwarded is answered from this node's own streams.
/// </remarks>
public sealed class VisionGrpcService(StreamRegistry streams, StreamCommands commands, InferenceEngine engine, ServerMetrics metrics,
    ProcessSessions sessions, IOptions<ServiceOptions> options, TimeProvider time, IClusterFrontDoor? cluster = null) : VisionService.VisionServiceBase
{
    private readonly ServiceOptions _options = options.Value;

    /// <summary>
    /// The cluster's front door for a read or a subscription, unless this is a single node or the call was forwarded by
    /// another node. Adds and removes always go through the cluster's registry (nodes never forward them, so a hop mark on
    /// one is ignored rather than letting a client run a stream the registry does not know).
    /// </summary>
    private IClusterFrontDoor? Cluster(ServerCallContext context) =>
        cluster is not null && !IClusterFrontDoor.IsHop(context) ? cluster : null;

    public override System.Threading.Tasks.Task<StreamInfo> AddStream(AddStreamRequest request, ServerCallContext context) =>
        cluster is { } front ? front.AddAsync(request, Client(context), context) : commands.AddAsync(request, Client(context), context.CancellationToken);

    public override async System.Threading.Tasks.Task<RemoveStreamResponse> RemoveStream(RemoveStreamRequest request, ServerCallContext context)
    {
        await (cluster is { } front ? front.RemoveAsync(request.Id) : commands.RemoveAsync(request.Id));
        return new RemoveStreamResponse();
    }

    public override async System.Threading.Tasks.Task<ListStreamsResponse> ListStreams(ListStreamsRequest request, ServerCallContext context)
    {
        var response = new ListStreamsResponse();
        response.Streams.AddRange(Cluster(context) is { } front ? await front.ListAsync(context) : streams.All.Select(s => ApiMapping.ToApi(s.Snapshot())));
        return response;
    }

    public override async System.Threading.Tasks.Task<StreamInfo> GetStream(GetStreamRequest request, ServerCallContext context) =>
        Cluster(context) is { } front ? await front.GetAsync(request.Id, context)
        : ApiMapping.ToApi((streams.Find(request.Id) ?? throw NotFound(request.Id)).Snapshot());

    public override async System.Threading.Tasks.Task Subscribe(SubscribeRequest request, IServerStreamWriter<FrameResult> responseStream,
        ServerCallContext context)
    {
        if (Cluster(context) is { } front && await front.TryProxySubscribeAsync(request, responseStream, context))
        {
            return;
        }
        var (stream, subscriber) = commands.Subscribe(request);
        var unchanged = request.Encoding?.SkipUnchanged == true ? new UnchangedOutputs() : null;
        string? reason = "client_gone";
        try
        {
            await subscriber.PumpAsync(async (result, dropped, cancellationToken) =>
            {
                var message = unchanged?.ToApi(result, dropped) ?? ApiMapping.ToApi(result, dropped);
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

    public override System.Threading.Tasks.Task<ModelInfo> GetModelInfo(GetModelInfoRequest request, ServerCallContext context) =>
        System.Threading.Tasks.Task.FromResult(commands.ModelInfo());

    private void Sent(string stream, FrameResult result)
    {
        metrics.ResultsSent.WithLabels(stream).Inc();
        metrics.ResultBytes.WithLabels(stream).Inc(result.CalculateSize());
    }

    private static RpcException NotFound(string id) => ApiMapping.NotFound(id);
}
