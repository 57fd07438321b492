using Orleans.Runtime;

namespace StreamMtl.Server.Cluster;

/// <summary>
/// The registry's placement rule, pure: among live nodes that reported and are not leaving, the one with the most free
/// stream slots (its limit minus the streams the registry assigned it); ties go to the node running fewer streams, then
/// by name. Null when every node is full: no node ever exceeds its limit.
/// </summary>
public static class StreamPlacement
{
    public static NodeReport? Choose(IEnumerable<NodeReport> nodes, IReadOnlyDictionary<SiloAddress, int> assigned, ISet<SiloAddress> excluded) =>
        nodes.Where(n => !excluded.Contains(n.Silo))
            .Select(n => (Node: n, Free: n.Limit - assigned.GetValueOrDefault(n.Silo)))
            .Where(c => c.Free > 0)
            .OrderByDescending(c => c.Free)
            .ThenBy(c => c.Node.Running)
            .ThenBy(c => c.Node.Name, StringComparer.Ordinal)
            .Select(c => c.Node)
            .FirstOrDefault();
}
