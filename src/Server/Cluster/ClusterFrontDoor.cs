using System.Collections.Concurrent;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.Options;
using Orleans;
using StreamMtl.Api.V1;
using Task = System.Threading.Tasks.Task;
using StreamMtl.Pipeline.Streams;
using StreamMtl.Server.Configuration;
using StreamMtl.Server.Service;

namespace StreamMtl.Server.Cluster;

/// <summary>
/// Stream management and Subscribe on a cluster node, for any stream of the cluster: adds and removes go through the
/// durable registry; reads and subscriptions of a stream another node owns are forwarded to that node's gRPC API
/// (marked with <see cref="IClusterFrontDoor.HopHeader"/>, which the owner answers from its own streams only), so a client can use any
/// node. Results of a proxied Subscribe flow node to node over gRPC, never through a grain.
/// </summary>
public sealed class ClusterFrontDoor(IGrainFactory grains, StreamCommands commands, StreamRegistry registry, ILocalStreams local,
    IOptions<ServiceOptions> options) : IClusterFrontDoor, IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, GrpcChannel> _channels = new(StringComparer.Ordinal);
    private readonly ServiceOptions _options = options.Value;

    private IStreamCatalogGrain Catalog => grains.GetGrain<IStreamCatalogGrain>(0);

    public async Task<StreamInfo> AddAsync(AddStreamRequest request, string client, ServerCallContext? context)
    {
        await commands.AdmitAsync(request, context?.CancellationToken ?? CancellationToken.None);
        var record = new StreamRecord(request.Id, request.ToByteArray(), client, Ingest.Sources.UriRedactor.Redact(request.SourceUri));
        var answer = await Catalog.Add(record);
        if (!answer.Outcome.Succeeded)
        {
            throw new RpcException(new Status((StatusCode)answer.Outcome.Code, answer.Outcome.Message));
        }
        return await DescribeAsync(answer.Location!, context);
    }

    public async Task RemoveAsync(string id)
    {
        if (!await Catalog.Remove(id))
        {
            throw ApiMapping.NotFound(id);
        }
    }

    public async Task<StreamInfo> GetAsync(string id, ServerCallContext context) =>
        await DescribeAsync(await Catalog.Locate(id) ?? throw ApiMapping.NotFound(id), context);

    public async Task<IReadOnlyList<StreamInfo>> ListAsync(ServerCallContext context)
    {
        var locations = await Catalog.List();
        var infos = await Task.WhenAll(locations.GroupBy(l => l.GrpcEndpoint).Select(async group =>
        {
            if (group.Key == local.GrpcEndpoint)
            {
                return group.Select(l => Local(l) ?? Pending(l, "starting on its node")).ToList();
            }
            if (group.Key.Length == 0)
            {
                return group.Select(l => Pending(l, "being placed on a node")).ToList();
            }
            try
            {
                var remote = await Client(group.Key).ListStreamsAsync(new ListStreamsRequest(), Forwarded(context), ReadDeadline(context));
                var byId = remote.Streams.ToDictionary(s => s.Id, StringComparer.Ordinal);
                return group.Select(l => byId.TryGetValue(l.Id, out var info) ? WithNode(info, l.Node) : Pending(l, "starting on its node")).ToList();
            }
            catch (RpcException e)
            {
                return group.Select(l => Pending(l, $"node {l.Node} did not answer ({e.StatusCode})")).ToList();
            }
        }));
        return infos.SelectMany(i => i).OrderBy(i => i.Id, StringComparer.Ordinal).ToList();
    }

    /// <summary>
    /// Serves a Subscribe for a stream another node owns by forwarding it there and relaying the results; returns false
    /// when this node owns the stream (the caller serves it locally). A lost owner ends the call with UNAVAILABLE: the
    /// client resubscribes (through any node) and gets the stream from its new node, starting with a keyframe.
    /// </summary>
    public async Task<bool> TryProxySubscribeAsync(SubscribeRequest request, IServerStreamWriter<FrameResult> writer, ServerCallContext context)
    {
        var location = await Catalog.Locate(request.StreamId) ?? throw ApiMapping.NotFound(request.StreamId);
        if (location.GrpcEndpoint == local.GrpcEndpoint)
        {
            return false;
        }
        if (!location.Placed)
        {
            throw new RpcException(new Status(StatusCode.Unavailable, $"stream '{request.StreamId}' is being placed on a node; retry"));
        }
        try
        {
            using var call = Client(location.GrpcEndpoint).Subscribe(request, Forwarded(context));
            await foreach (var result in call.ResponseStream.ReadAllAsync(context.CancellationToken))
            {
                await writer.WriteAsync(result, context.CancellationToken);
            }
        }
        catch (RpcException e) when (e.StatusCode is StatusCode.Unavailable or StatusCode.Internal or StatusCode.Unknown && !context.CancellationToken.IsCancellationRequested)
        {
            throw new RpcException(new Status(StatusCode.Unavailable, $"stream '{request.StreamId}': its node {location.Node} went away ({e.Status.Detail}); resubscribe"));
        }
        return true;
    }

    private async Task<StreamInfo> DescribeAsync(StreamLocation location, ServerCallContext? context)
    {
        if (location.GrpcEndpoint == local.GrpcEndpoint)
        {
            return Local(location) ?? Pending(location, "starting on its node");
        }
        if (!location.Placed)
        {
            return Pending(location, "being placed on a node");
        }
        try
        {
            return WithNode(await Client(location.GrpcEndpoint).GetStreamAsync(new GetStreamRequest { Id = location.Id }, Forwarded(context), ReadDeadline(context)), location.Node);
        }
        catch (RpcException e) when (e.StatusCode is StatusCode.Unavailable or StatusCode.NotFound or StatusCode.DeadlineExceeded)
        {
            return Pending(location, $"node {location.Node} did not answer ({e.StatusCode})");
        }
    }

    private StreamInfo? Local(StreamLocation location) =>
        registry.Find(location.Id) is { } stream ? WithNode(ApiMapping.ToApi(stream.Snapshot()), location.Node) : null;

    private static StreamInfo WithNode(StreamInfo info, string node)
    {
        info.Node = node;
        return info;
    }

    private static StreamInfo Pending(StreamLocation location, string why) => new()
    {
        Id = location.Id,
        SourceUri = location.DisplayUri,
        State = Api.V1.StreamState.Connecting,
        LastError = why,
        Node = location.Node,
    };

    /// <summary>A node that hangs (not yet declared dead) costs a read at most this long; its streams are then listed as not answering.</summary>
    private static readonly TimeSpan ReadTimeout = TimeSpan.FromSeconds(5);

    private static DateTime ReadDeadline(ServerCallContext? context)
    {
        var own = DateTime.UtcNow + ReadTimeout;
        return context is not null && context.Deadline < own ? context.Deadline : own;
    }

    /// <summary>
    /// The hop mark and the caller's credentials (either form the key interceptor accepts); for a caller outside gRPC
    /// (the web view, whose user logged in), the node's own first API key (every node of a cluster has the same keys).
    /// </summary>
    private Metadata Forwarded(ServerCallContext? context)
    {
        var headers = new Metadata { { IClusterFrontDoor.HopHeader, "1" } };
        if (context is null)
        {
            if (_options.Security.ApiKeys is [var own, ..])
            {
                headers.Add(_options.Security.ApiKeyHeader, own);
            }
            return headers;
        }
        foreach (var name in new[] { _options.Security.ApiKeyHeader, "authorization" }.Distinct(StringComparer.OrdinalIgnoreCase))
        {
            if (context.RequestHeaders.Get(name) is { } credential)
            {
                headers.Add(credential.Key, credential.Value);
            }
        }
        return headers;
    }

    private VisionService.VisionServiceClient Client(string endpoint) =>
        new(_channels.GetOrAdd(endpoint, e => GrpcChannel.ForAddress(e, new GrpcChannelOptions
        {
            MaxReceiveMessageSize = _options.Limits.MaxSendMessageBytes,
        })));

    public ValueTask DisposeAsync()
    {
        foreach (var channel in _channels.Values)
        {
            channel.Dispose();
        }
        _channels.Clear();
        return ValueTask.CompletedTask;
    }
}
