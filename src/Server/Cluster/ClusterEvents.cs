using StreamMtl.Server.Metrics;

namespace StreamMtl.Server.Cluster;

/// <summary>What the registry reports as it works: stream placements by reason.</summary>
public interface IClusterEvents
{
    /// <summary>A stream was placed on a node: "added", "placement" (placed later, e.g. after a restart), "failover" (its node died), "handover" (its node is leaving), "restart" (its live node had lost it).</summary>
    void Placed(string stream, string reason);
}

/// <summary>Cluster events as Prometheus metrics of this node (streammtl_stream_moves_total).</summary>
public sealed class MetricClusterEvents(ServerMetrics metrics) : IClusterEvents
{
    public void Placed(string stream, string reason) => metrics.StreamMoves.WithLabels(reason).Inc();
}
