using Microsoft.Extensions.Time.Testing;
using StreamMtl.Ingest.Supervision;

namespace StreamMtl.Ingest.Tests.Supervision;

public sealed class SourceDemandTests
{
    private static readonly TimeSpan Grace = TimeSpan.FromSeconds(5);

    [Fact]
    public void Wanting_applies_at_once_and_not_wanting_only_after_the_grace_period()
    {
        var time = new FakeTimeProvider();
        using var demand = new SourceDemand(false, Grace, time);
        var (_, changed) = demand.Current;

        demand.Set(true);
        Assert.True(demand.IsWanted);
        Assert.True(changed.IsCancellationRequested);

        demand.Set(false);
        time.Advance(Grace - TimeSpan.FromMilliseconds(1));
        Assert.True(demand.IsWanted);
        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.False(demand.IsWanted);
    }

    [Fact]
    public void A_subscriber_back_within_the_grace_period_keeps_the_source_wanted()
    {
        var time = new FakeTimeProvider();
        using var demand = new SourceDemand(true, Grace, time);
        var (_, changed) = demand.Current;

        demand.Set(false);
        time.Advance(Grace / 2);
        demand.Set(true);
        time.Advance(Grace * 2);

        Assert.True(demand.IsWanted);
        Assert.False(changed.IsCancellationRequested);
    }

    [Fact]
    public async Task WhenWanted_completes_when_frames_are_wanted_and_honours_cancellation()
    {
        using var demand = new SourceDemand(false, TimeSpan.Zero);
        var waiting = demand.WhenWantedAsync(CancellationToken.None);
        Assert.False(waiting.IsCompleted);

        demand.Set(true);
        await waiting.WaitAsync(TimeSpan.FromSeconds(10));

        demand.Set(false);
        using var cts = new CancellationTokenSource();
        var cancelled = demand.WhenWantedAsync(cts.Token);
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);
    }
}
