using StreamMtl.Ingest.Supervision;

namespace StreamMtl.Ingest.Tests.Supervision;

public sealed class BackoffTests
{
    [Fact]
    public void Doubles_from_the_initial_delay_up_to_the_cap_without_jitter()
    {
        var backoff = new Backoff(new SupervisorOptions { BackoffJitter = 0 });

        var delays = Enumerable.Range(0, 10).Select(a => backoff.Delay(a).TotalSeconds).ToArray();

        Assert.Equal([0.5, 1, 2, 4, 8, 16, 30, 30, 30, 30], delays);
    }

    [Fact]
    public void Jitter_stays_within_its_fraction_and_under_the_cap()
    {
        var backoff = new Backoff(new SupervisorOptions { BackoffJitter = 0.2 }, new Random(7));

        for (var i = 0; i < 1000; i++)
        {
            Assert.InRange(backoff.Delay(2).TotalSeconds, 1.6, 2.4);
            Assert.InRange(backoff.Delay(40).TotalSeconds, 24, 30);
        }
    }

    [Fact]
    public void Within_the_fast_retry_window_delays_stay_short_and_grow_to_the_cap_after_it()
    {
        var backoff = new Backoff(new SupervisorOptions { BackoffJitter = 0 });

        var early = Enumerable.Range(0, 8).Select(a => backoff.Delay(a, TimeSpan.FromSeconds(10)).TotalSeconds).ToArray();
        var late = Enumerable.Range(0, 8).Select(a => backoff.Delay(a, TimeSpan.FromSeconds(61)).TotalSeconds).ToArray();

        Assert.Equal([0.5, 1, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5], early);
        Assert.Equal([0.5, 1, 2, 4, 8, 16, 30, 30], late);
    }

    [Fact]
    public void Options_report_every_problem()
    {
        var errors = new SupervisorOptions { StallTimeout = TimeSpan.Zero, BackoffJitter = 2, Capacity = 0 }.Validate();

        Assert.Equal(3, errors.Count);
    }
}
