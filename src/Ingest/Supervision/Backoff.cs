namespace StreamMtl.Ingest.Supervision;

/// <summary>Exponential reconnect delays with jitter: initial * 2^attempt, capped, spread by +-jitter.</summary>
public sealed class Backoff
{
    private readonly SupervisorOptions _options;
    private readonly Random _random;

    public Backoff(SupervisorOptions options, Random? random = null)
    {
        _options = options;
        _random = random ?? Random.Shared;
    }

    /// <summary>The delay before reconnect attempt <paramref name="attempt"/> (0-based) of an outage long past its fast-retry window.</summary>
    public TimeSpan Delay(int attempt) => Delay(attempt, TimeSpan.MaxValue);

    /// <summary>
    /// The delay before reconnect attempt <paramref name="attempt"/> (0-based) of an outage that began
    /// <paramref name="outage"/> ago: capped at <see cref="SupervisorOptions.FastRetryMax"/> within the
    /// <see cref="SupervisorOptions.FastRetryWindow"/> (a blip is noticed back within seconds), at
    /// <see cref="SupervisorOptions.BackoffMax"/> after it (a dead camera is not hammered).
    /// </summary>
    public TimeSpan Delay(int attempt, TimeSpan outage)
    {
        double cap = outage < _options.FastRetryWindow
            ? Math.Min(_options.FastRetryMax.TotalSeconds, _options.BackoffMax.TotalSeconds)
            : _options.BackoffMax.TotalSeconds;
        var exponent = Math.Min(attempt, 30);
        var baseSeconds = Math.Min(cap, _options.BackoffInitial.TotalSeconds * Math.Pow(2, exponent));
        var spread = 1 + (_options.BackoffJitter * ((2 * _random.NextDouble()) - 1));
        return TimeSpan.FromSeconds(Math.Min(cap, baseSeconds * spread));
    }
}
