using Orleans;
using Orleans.Runtime;

namespace StreamMtl.Server.Cluster;

/// <summary>A stream as the cluster registry keeps it: the AddStream request (protobuf bytes) and the client that added it.</summary>
[GenerateSerializer, Immutable]
public sealed record StreamRecord([property: Id(0)] string Id, [property: Id(1)] byte[] Request, [property: Id(2)] string Client, [property: Id(3)] string DisplayUri);

/// <summary>What a node tells the registry every reconcile period: where to reach it, how full it is and which streams it runs.</summary>
[GenerateSerializer, Immutable]
public sealed record NodeReport(
    [property: Id(0)] SiloAddress Silo,
    [property: Id(1)] string Name,
    [property: Id(2)] string GrpcEndpoint,
    [property: Id(3)] int Limit,
    [property: Id(5)] string[] Streams,
    [property: Id(6)] double Load)
{
    /// <summary>How many streams the node runs.</summary>
    public int Running => Streams.Length;
}

/// <summary>A gRPC status code (0 = OK) and message, for answers that cross nodes.</summary>
[GenerateSerializer, Immutable]
public sealed record Outcome([property: Id(0)] int Code, [property: Id(1)] string Message)
{
    public static Outcome Ok { get; } = new(0, "");

    public bool Succeeded => Code == 0;
}

/// <summary>Where a stream runs: its node's name and gRPC endpoint, empty while it is being placed.</summary>
[GenerateSerializer, Immutable]
public sealed record StreamLocation(
    [property: Id(0)] string Id,
    [property: Id(1)] string Node,
    [property: Id(2)] string GrpcEndpoint,
    [property: Id(3)] string DisplayUri)
{
    public bool Placed => GrpcEndpoint.Length > 0;
}

/// <summary>An owner's answer to Ensure: the outcome and the silo the stream grain is active on.</summary>
[GenerateSerializer, Immutable]
public sealed record EnsureAnswer([property: Id(0)] Outcome Outcome, [property: Id(1)] SiloAddress Silo)
{
    /// <summary>This call started the stream (false when it was already running there).</summary>
    [Id(2)] public bool Started { get; init; }
}

/// <summary>The registry's answer to AddStream.</summary>
[GenerateSerializer, Immutable]
public sealed record AddAnswer([property: Id(0)] Outcome Outcome, [property: Id(1)] StreamLocation? Location);

/// <summary>The durable registry: every stream of the cluster, and the silo that owns each (so a re-activated registry knows where streams run).</summary>
[GenerateSerializer]
public sealed class CatalogState
{
    [Id(0)] public Dictionary<string, StreamRecord> Streams { get; set; } = new(StringComparer.Ordinal);

    [Id(1)] public Dictionary<string, SiloAddress> Owners { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Per stream, how many times it was placed: its owner grain's key is "ID@EPOCH".</summary>
    [Id(2)] public Dictionary<string, int> Epochs { get; set; } = new(StringComparer.Ordinal);
}

/// <summary>
/// The cluster's stream registry (one grain, key 0): adds and removes streams durably, decides on which node each runs
/// (capacity-aware, from the nodes' reports) and re-places the streams of nodes that died or are leaving.
/// </summary>
public interface IStreamCatalogGrain : IGrainWithIntegerKey
{
    Task Report(NodeReport report);

    Task<AddAnswer> Add(StreamRecord record);

    Task<bool> Remove(string id);

    Task<StreamLocation[]> List();

    Task<StreamLocation?> Locate(string id);

    /// <summary>Moves every stream off <paramref name="silo"/> (it is stopping) and takes no new ones there.</summary>
    Task Drain(SiloAddress silo);

    /// <summary>One reconcile pass now (the timer runs one every period); returns the number of streams moved or placed.</summary>
    Task<int> Reconcile();
}

/// <summary>
/// One placement of a camera stream (key "ID@EPOCH", a new epoch per placement): the activation's silo is where the
/// stream runs. Never on the frame path.
/// </summary>
public interface IStreamGrain : IGrainWithStringKey
{
    /// <summary>Starts the stream on this grain's node if it does not run yet; <paramref name="target"/> is where the registry wants it.</summary>
    Task<EnsureAnswer> Ensure(StreamRecord record, SiloAddress target);

    /// <summary>Stops the stream here and deactivates (removal, or a handover to another node).</summary>
    Task Release();
}
