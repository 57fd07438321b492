namespace StreamMtl.Server.Cluster;

/// <summary>This node's side of the cluster: what a stream grain starts and stops here, and what the node reports.</summary>
public interface ILocalStreams
{
    string NodeName { get; }

    /// <summary>http(s)://address:port other nodes reach this node's gRPC API at.</summary>
    string GrpcEndpoint { get; }

    /// <summary>Streams this node may run (Limits:MaxStreams).</summary>
    int Limit { get; }

    /// <summary>
    /// Share of the node's cost budget its streams hold now (0..1): the larger of the source pixel rate over
    /// Limits:NodeMegapixelsPerSecond and the inference rate over Limits:NodeTaskFramesPerSecond.
    /// </summary>
    double Load { get; }

    /// <summary>Ids of the streams running on this node now.</summary>
    IReadOnlyCollection<string> Running { get; }

    /// <summary>Starts the stream on this node (already running here is success); the outcome carries the API's refusal otherwise.</summary>
    Task<Outcome> StartAsync(StreamRecord record);

    Task StopAsync(string id);
}
