using StreamMtl.Ingest.Supervision;

namespace StreamMtl.Server.Configuration;

/// <summary>
/// A stream's reconnect policy (configuration `Streams[i]:Reconnect`, or AddStream's `reconnect`); null values keep the
/// defaults: stall after Pipeline:StallTimeout, retries at most 1.5 s apart in an outage's first minute, then backing off
/// to 30 s. The backoff resets as soon as frames flow.
/// </summary>
public sealed record ReconnectOptions
{
    private static readonly TimeSpan Shortest = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan Longest = TimeSpan.FromHours(1);

    public TimeSpan? StallTimeout { get; init; }
    public TimeSpan? ConnectTimeout { get; init; }
    public TimeSpan? BackoffInitial { get; init; }
    public TimeSpan? BackoffMax { get; init; }
    public TimeSpan? FastRetryWindow { get; init; }
    public TimeSpan? FastRetryMax { get; init; }

    public bool IsDefault => this == new ReconnectOptions();

    /// <summary>The supervisor settings: these values over the defaults, the stall timeout over <paramref name="defaultStall"/>.</summary>
    public SupervisorOptions ToSupervisor(TimeSpan defaultStall)
    {
        var d = SupervisorOptions.Default;
        return d with
        {
            StallTimeout = StallTimeout ?? defaultStall,
            ConnectTimeout = ConnectTimeout ?? d.ConnectTimeout,
            BackoffInitial = BackoffInitial ?? d.BackoffInitial,
            BackoffMax = BackoffMax ?? d.BackoffMax,
            FastRetryWindow = FastRetryWindow ?? d.FastRetryWindow,
            FastRetryMax = FastRetryMax ?? d.FastRetryMax,
        };
    }

    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        foreach (var (name, value) in new[]
        {
            ("StallTimeout", StallTimeout), ("ConnectTimeout", ConnectTimeout), ("BackoffInitial", BackoffInitial),
            ("BackoffMax", BackoffMax), ("FastRetryMax", FastRetryMax),
        })
        {
            if (value is { } v && (v < Shortest || v > Longest))
            {
                errors.Add($"{name} must be within 0.1 s..1 h, got {v.TotalSeconds:0.###} s");
            }
        }
        if (FastRetryWindow is { } window && (window < TimeSpan.Zero || window > Longest))
        {
            errors.Add($"FastRetryWindow must be within 0..1 h, got {window.TotalSeconds:0.###} s");
        }
        var merged = ToSupervisor(SupervisorOptions.Default.StallTimeout);
        if (merged.BackoffMax < merged.BackoffInitial)
        {
            errors.Add($"BackoffMax ({merged.BackoffMax.TotalSeconds:0.###} s) must be >= BackoffInitial ({merged.BackoffInitial.TotalSeconds:0.###} s)");
        }
        return errors;
    }
}
