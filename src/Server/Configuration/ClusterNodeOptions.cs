namespace StreamMtl.Server.Configuration;

/// <summary>
/// Scale-out (section StreamMtl:Cluster). Unset <see cref="Redis"/> = a single node without Orleans (the embedded
/// default); set (serve --cluster redis://HOST:PORT) = a cluster node: Orleans membership and the durable stream
/// registry in that Redis, one grain per stream owning where it runs.
/// </summary>
public sealed record ClusterNodeOptions
{
    /// <summary>Redis HOST:PORT for membership and the stream registry; empty = no cluster.</summary>
    public string? Redis { get; init; }

    /// <summary>Orleans silo-to-silo port (TCP) on <see cref="AdvertisedAddress"/>.</summary>
    public int SiloPort { get; init; } = 11111;

    /// <summary>The address other nodes reach this one at (silo port and gRPC port); empty = the listen address, or loopback when it listens on all addresses.</summary>
    public string? AdvertisedAddress { get; init; }

    /// <summary>The node's name in ListStreams, logs and metrics; empty = host:gRPC port.</summary>
    public string? NodeName { get; init; }

    /// <summary>
    /// Failure detection: a node that misses <see cref="MissedProbesLimit"/> probes of <see cref="ProbeTimeout"/> each is
    /// suspected, and declared dead once <see cref="VotesForDeath"/> nodes vote so. Defaults: 2 s x 3 (about 6-10 s to declare a
    /// killed node dead; Orleans' own defaults, 5 s x 3, take 15-30 s). Shorter detects faster and moves streams off a node that
    /// was only slow (a long GC pause, a saturated CPU) more often.
    /// </summary>
    public TimeSpan ProbeTimeout { get; init; } = TimeSpan.FromSeconds(2);

    public int MissedProbesLimit { get; init; } = 3;

    public int VotesForDeath { get; init; } = 2;

    /// <summary>How often each node reports its load and the registry re-places streams whose node is gone.</summary>
    public TimeSpan ReconcilePeriod { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How long a node that stops gracefully waits for its streams to move before it exits anyway.</summary>
    public TimeSpan HandoverTimeout { get; init; } = TimeSpan.FromSeconds(20);

    public bool Enabled => !string.IsNullOrWhiteSpace(Redis);

    /// <summary>The accepted form of serve --cluster: redis://HOST:PORT; returns HOST:PORT or null with the reason.</summary>
    public static string? ParseRedisUri(string text, out string? error)
    {
        error = null;
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || uri.Scheme != "redis" || string.IsNullOrEmpty(uri.Host)
            || uri.AbsolutePath is not ("" or "/") || !string.IsNullOrEmpty(uri.Query) || !string.IsNullOrEmpty(uri.UserInfo))
        {
            error = $"--cluster must be redis://HOST:PORT, got '{text}'";
            return null;
        }
        int port = uri.IsDefaultPort || uri.Port < 0 ? 6379 : uri.Port;
        return $"{uri.Host}:{port}";
    }

    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (!Enabled)
        {
            return errors;
        }
        if (SiloPort is < 1 or > 65535) errors.Add($"SiloPort must be in 1..65535, got {SiloPort}");
        if (!string.IsNullOrEmpty(AdvertisedAddress) && !System.Net.IPAddress.TryParse(AdvertisedAddress, out _))
        {
            errors.Add($"AdvertisedAddress must be an IP address, got '{AdvertisedAddress}'");
        }
        if (ProbeTimeout < TimeSpan.FromMilliseconds(200)) errors.Add($"ProbeTimeout must be >= 200 ms, got {ProbeTimeout}");
        if (MissedProbesLimit < 1) errors.Add($"MissedProbesLimit must be >= 1, got {MissedProbesLimit}");
        if (VotesForDeath < 1) errors.Add($"VotesForDeath must be >= 1, got {VotesForDeath}");
        if (ReconcilePeriod < TimeSpan.FromMilliseconds(100) || ReconcilePeriod > TimeSpan.FromMinutes(1)) errors.Add($"ReconcilePeriod must be in 100 ms..1 min, got {ReconcilePeriod}");
        if (HandoverTimeout < TimeSpan.Zero) errors.Add($"HandoverTimeout must be >= 0, got {HandoverTimeout}");
        return errors;
    }
}
