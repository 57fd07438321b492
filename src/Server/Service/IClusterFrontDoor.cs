using Grpc.Core;
using StreamMtl.Api.V1;
using Task = System.Threading.Tasks.Task;

namespace StreamMtl.Server.Service;

/// <summary>
/// Stream management and Subscribe for every stream of a cluster, on a cluster node (implemented in Server.Cluster;
/// absent on a single node). <see cref="VisionGrpcService"/> hands a call to it unless another node forwarded the call
/// (<see cref="IsHop"/>), which is answered from this node's own streams.
/// </summary>
public interface IClusterFrontDoor
{
    /// <summary>Metadata on a call one node forwards to another: answer from your own streams, do not forward again.</summary>
    public const string HopHeader = "x-streammtl-hop";

    public static bool IsHop(ServerCallContext context) => context.RequestHeaders.Get(HopHeader) is not null;

    /// <summary>Adds the stream through the cluster's registry; <paramref name="context"/> is null for a caller outside gRPC (the web view).</summary>
    Task<StreamInfo> AddAsync(AddStreamRequest request, string client, ServerCallContext? context);

    Task RemoveAsync(string id);

    Task<StreamInfo> GetAsync(string id, ServerCallContext context);

    Task<IReadOnlyList<StreamInfo>> ListAsync(ServerCallContext context);

    /// <summary>Serves a Subscribe for a stream another node owns; false when this node owns it (served locally).</summary>
    Task<bool> TryProxySubscribeAsync(SubscribeRequest request, IServerStreamWriter<FrameResult> writer, ServerCallContext context);
}
