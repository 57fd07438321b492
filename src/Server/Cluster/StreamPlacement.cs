using Orleans.Runtime;

namespace StreamMtl.Server.Cluster;

/// <summary>
/// The registry's placement rule, pure. Candidates are the live nodes that reported, are not leaving, have a free stream
/// slot (their limit minus the streams the registry assigned them, counted by the registry itself, so a burst of adds
/// spreads) and have cost budget left (their last report); the one with the most free slots comes first, then the least
/// loaded (share of its pixel-rate and inference-rate budget in use), the one running fewer streams, then by name.
/// Empty when every node is full: no node ever exceeds its limit.
/// </summary>
public static class StreamPlacement
{
    /// <summary>A node this loaded takes no new stream (its own admission would refuse it).</summary>
    public const double FullLoad = 0.999;

    public static IReadOnlyList<NodeReport> Rank(IEnumerable<NodeReport> nodes, IReadOnlyDictionary<SiloAddress, int> assigned, ISet<SiloAddress> excluded) =>
        [.. nodes.Where(n => !excluded.Contains(n.Silo) && n.Load < FullLoad)
            .Select(n => (Node: n, Free: n.Limit - assigned.GetValueOrDefault(n.Silo)))
            .Where(c => c.Free > 0)
            .OrderByDescending(c => c.Free)
            .ThenBy(c => Math.Round(c.Node.Load, 3))
            .ThenBy(c => c.Node.Running)
            .ThenBy(c => c.Node.Name, StringComparer.Ordinal)
            .Select(c => c.Node)];

    public static NodeReport? Choose(IEnumerable<NodeReport> nodes, IReadOnlyDictionary<SiloAddress, int> assigned, ISet<SiloAddress> excluded) =>
        Rank(nodes, assigned, excluded).FirstOrDefault();
}
