namespace StreamMtl.Ingest.Sources;

/// <summary>
/// Decides whether a source may open a network connection to a host and port, and to which addresses: connecting to
/// exactly the addresses returned (no second lookup) is what keeps a DNS answer from changing after the check.
/// </summary>
public interface IEgressPolicy
{
    /// <summary>Checks <paramref name="host"/> (a name or an IP literal, without brackets) and <paramref name="port"/>.</summary>
    ValueTask<EgressDecision> CheckAsync(string host, int port, CancellationToken cancellationToken);
}
