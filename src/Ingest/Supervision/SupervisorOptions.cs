namespace StreamMtl.Ingest.Supervision;

/// <summary>Timeouts and backoff for a <see cref="StreamSupervisor"/>.</summary>
public sealed record SupervisorOptions
{
    public static SupervisorOptions Default { get; } = new();

    /// <summary>No frame for this long while running means stalled: the source is killed and reconnected.</summary>
    public TimeSpan StallTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Longest wait for the first frame of a connection; listening sources wait without limit.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(15);

    public TimeSpan BackoffInitial { get; init; } = TimeSpan.FromSeconds(0.5);

    public TimeSpan BackoffMax { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long into an outage reconnects stay fast (at most <see cref="FastRetryMax"/> apart).</summary>
    public TimeSpan FastRetryWindow { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Longest delay between reconnect attempts within <see cref="FastRetryWindow"/> of an outage's start.</summary>
    public TimeSpan FastRetryMax { get; init; } = TimeSpan.FromSeconds(1.5);

    /// <summary>Random spread of each backoff delay, as a fraction (0.2 = +-20%), so cameras do not reconnect in lockstep.</summary>
    public double BackoffJitter { get; init; } = 0.2;

    /// <summary>Frames kept for the consumer; older ones are dropped (1 = newest frame only).</summary>
    public int Capacity { get; init; } = 1;

    /// <summary>All problems with these options, empty when valid.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (StallTimeout <= TimeSpan.Zero)
        {
            errors.Add("stall timeout must be positive");
        }
        if (ConnectTimeout <= TimeSpan.Zero && ConnectTimeout != Timeout.InfiniteTimeSpan)
        {
            errors.Add("connect timeout must be positive or infinite");
        }
        if (BackoffInitial <= TimeSpan.Zero || BackoffMax < BackoffInitial)
        {
            errors.Add("backoff needs 0 < initial <= max");
        }
        if (FastRetryWindow < TimeSpan.Zero || FastRetryMax <= TimeSpan.Zero)
        {
            errors.Add("fast retry window must be >= 0 and fast retry max positive");
        }
        if (BackoffJitter is < 0 or >= 1)
        {
            errors.Add("backoff jitter must be within [0, 1)");
        }
        if (Capacity < 1)
        {
            errors.Add("capacity must be at least 1");
        }
        return errors;
    }
}
