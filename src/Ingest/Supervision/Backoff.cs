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

    /// <summary>The delay before reconnect attempt <paramref name="attempt"/> (0-based).</summary>
    public TimeSpan Delay(int attempt)
    {
        var exponent = Math.Min(attempt, 30);
        var baseSeconds = Math.Min(_options.BackoffMax.TotalSeconds, _options.BackoffInitial.TotalSeconds * Math.Pow(2, exponent));
        var spread = 1 + (_options.BackoffJitter * ((2 * _random.NextDouble()) - 1));
        return TimeSpan.FromSeconds(Math.Min(_options.BackoffMax.TotalSeconds, baseSeconds * spread));
    }
}
