using System.Net;

namespace StreamMtl.Ingest.Sources;

/// <summary>The answer of an <see cref="IEgressPolicy"/>: refused with a reason, or allowed to these addresses.</summary>
public sealed class EgressDecision
{
    private EgressDecision(string? reason, IReadOnlyList<IPAddress> addresses, bool transient)
    {
        Reason = reason;
        Addresses = addresses;
        IsTransient = transient;
    }

    /// <summary>Why the connection is refused (names the host and the rule, never anything a target said); null when allowed.</summary>
    public string? Reason { get; }

    /// <summary>The addresses to connect to, in order; empty when refused.</summary>
    public IReadOnlyList<IPAddress> Addresses { get; }

    public bool IsAllowed => Reason is null;

    /// <summary>True when the refusal may not hold later (the name did not resolve): the source retries instead of failing.</summary>
    public bool IsTransient { get; }

    public static EgressDecision Refused(string reason, bool transient = false)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(reason);
        return new EgressDecision(reason, [], transient);
    }

    public static EgressDecision Allowed(IReadOnlyList<IPAddress> addresses)
    {
        ArgumentNullException.ThrowIfNull(addresses);
        if (addresses.Count == 0)
        {
            throw new ArgumentException("an allowed connection needs at least one address", nameof(addresses));
        }
        return new EgressDecision(null, [.. addresses], transient: false);
    }
}
