using Microsoft.Extensions.Time.Testing;
using StreamMtl.Pipeline.Inference;
using StreamMtl.Pipeline.Model;

namespace StreamMtl.Pipeline.Tests.Inference;

/// <summary>The overload controller's state machine under fake time: 10 fps streams judged per 2 s window. The shared
/// options step one rung per window whatever the drops (DropsPerRung 1); the default's several rungs at once have their own test.</summary>
public sealed class ComputeControllerTests
{
    private static readonly ComputeControllerOptions Options = new()
    {
        Window = TimeSpan.FromSeconds(2),
        MinFrames = 5,
        StepDownDropRatio = 0.05,
        DropsPerRung = 1,
        HeadroomWaitRatio = 0.25,
        UpHold = TimeSpan.FromSeconds(10),
        ProbationPeriod = TimeSpan.FromSeconds(10),
        MaxUpHoldFactor = 8,
        StartupGrace = TimeSpan.Zero,
    };

    private static readonly TimeSpan Short = TimeSpan.FromMilliseconds(5);
    private static readonly TimeSpan Long = TimeSpan.FromMilliseconds(90);

    /// <summary>One window of 20 frames 100 ms apart, <paramref name="drops"/> of them dropped, each started frame having
    /// waited <paramref name="wait"/>; returns the changes the controller made while offered them.</summary>
    private static List<LevelChange> Window(ComputeController controller, FakeTimeProvider time, int drops, TimeSpan wait, int frames = 20)
    {
        var changes = new List<LevelChange>();
        for (int i = 0; i < frames; i++)
        {
            if (controller.FrameOffered() is { } change)
            {
                changes.Add(change);
            }
            if (i < drops)
            {
                controller.FrameDropped();
            }
            else
            {
                controller.FrameStarted(wait);
            }
            time.Advance(TimeSpan.FromMilliseconds(2000.0 / frames));
        }
        return changes;
    }

    private static List<LevelChange> Windows(int count, ComputeController controller, FakeTimeProvider time, int drops, TimeSpan wait) =>
        [.. Enumerable.Range(0, count).SelectMany(_ => Window(controller, time, drops, wait))];

    [Fact]
    public void Drops_step_the_level_down_one_window_at_a_time_and_never_below_the_floor()
    {
        var time = new FakeTimeProvider();
        var controller = new ComputeController(ComputeLevel.Full, ComputeLevel.Reduced, Options, time);
        Assert.Equal(ComputeLevel.Full, controller.Level);
        Assert.Empty(Window(controller, time, drops: 10, Long)); // judged when the next window's first frame comes
        var changes = Window(controller, time, drops: 10, Long);
        Assert.Equal([new LevelChange(ComputeLevel.Full, ComputeLevel.Reduced)], changes);
        Assert.True(changes[0].Down);
        Assert.Equal("down", changes[0].Direction);
        Assert.Empty(Windows(5, controller, time, drops: 10, Long));
        Assert.Equal(ComputeLevel.Reduced, controller.Level);
    }

    /// <summary>
    /// With the default DropsPerRung (0.2) a window steps down one rung plus one for each further fifth of its frames
    /// dropped: half dropped goes from full to lean in one step (three rungs), 30 % two rungs, 10 % one; never below the floor.
    /// </summary>
    [Theory]
    [InlineData(20, ComputeLevel.Coarse)]
    [InlineData(10, ComputeLevel.Lean)]
    [InlineData(6, ComputeLevel.Minimal)]
    [InlineData(2, ComputeLevel.Reduced)]
    public void Heavier_drops_step_down_several_rungs_at_once(int drops, ComputeLevel expected)
    {
        var time = new FakeTimeProvider();
        var options = Options with { DropsPerRung = new ComputeControllerOptions().DropsPerRung };
        var controller = new ComputeController(ComputeLevel.Full, ComputeLevel.Coarse, options, time);
        Window(controller, time, drops, Long);
        var changes = Window(controller, time, drops, Long);
        Assert.Equal([new LevelChange(ComputeLevel.Full, expected)], changes);
        Assert.True(changes[0].Down);
        var floored = new ComputeController(ComputeLevel.Full, ComputeLevel.Minimal, options, time);
        Window(floored, time, 20, Long);
        Assert.Equal([new LevelChange(ComputeLevel.Full, ComputeLevel.Minimal)], Window(floored, time, 20, Long));
        Assert.Contains("drops per rung", string.Join("; ", (options with { DropsPerRung = 0 }).Validate()));
    }

    [Fact]
    public void At_the_default_floor_the_last_step_down_is_the_coarse_level()
    {
        var time = new FakeTimeProvider();
        var controller = new ComputeController(ComputeLevel.Full, ReuseSettings.Default.Floor, Options, time);
        var changes = Windows(6, controller, time, drops: 10, Long);
        Assert.Equal([new LevelChange(ComputeLevel.Full, ComputeLevel.Reduced), new LevelChange(ComputeLevel.Reduced, ComputeLevel.Minimal),
            new LevelChange(ComputeLevel.Minimal, ComputeLevel.Lean), new LevelChange(ComputeLevel.Lean, ComputeLevel.Coarse)], changes);
        Assert.Equal(ComputeLevel.Coarse, controller.Level);
    }

    [Fact]
    public void With_a_policy_and_budgets_first_the_budget_steps_down_to_its_floor_before_the_levels_and_back_up_with_the_hold()
    {
        var time = new FakeTimeProvider();
        var ladder = ComputeController.BudgetLadder(1, 0.4, Options.BudgetStep);
        Assert.Equal([1, 0.8, 0.6, 0.4], ladder);
        var controller = new ComputeController(ComputeLevel.Full, ComputeLevel.Minimal, Options with { BudgetsFirst = true }, time, budgets: ladder);
        Assert.Equal(1, controller.Budget);
        // Headroom climbs back one rung per up-hold (5 windows of headroom, judged at the 6th's first frame): levels first, budget last.
        var down = ClimbsDownAndBack(controller, time,
            (1, ComputeLevel.Full), (0.8, ComputeLevel.Full), (0.6, ComputeLevel.Full), (0.4, ComputeLevel.Full),
            (0.4, ComputeLevel.Reduced), (0.4, ComputeLevel.Minimal));
        Assert.Equal([true, true, true, false, false], down.Select(c => c.BudgetChanged));
    }

    [Fact]
    public void With_a_policy_the_levels_step_down_first_then_the_budget_at_the_floor_level_and_back_up_in_reverse()
    {
        var time = new FakeTimeProvider();
        var controller = new ComputeController(ComputeLevel.Full, ComputeLevel.Minimal, Options, time,
            budgets: ComputeController.BudgetLadder(1, 0.6, Options.BudgetStep));
        var down = ClimbsDownAndBack(controller, time,
            (1, ComputeLevel.Full), (1, ComputeLevel.Reduced), (1, ComputeLevel.Minimal), (0.8, ComputeLevel.Minimal), (0.6, ComputeLevel.Minimal));
        Assert.Equal([false, false, true, true], down.Select(c => c.BudgetChanged));
    }

    /// <summary>
    /// Overload steps <paramref name="controller"/> down <paramref name="rungs"/> one rung per window (a first window, then
    /// one per rung; three more change nothing at the bottom), then a minute of headroom climbs the same rungs back to the
    /// top. Returns the changes down.
    /// </summary>
    private static List<LevelChange> ClimbsDownAndBack(ComputeController controller, FakeTimeProvider time, params (double Budget, ComputeLevel Level)[] rungs)
    {
        static LevelChange[] Steps(IEnumerable<(double Budget, ComputeLevel Level)> path) =>
            [.. path.Zip(path.Skip(1), (a, b) => new LevelChange(a.Level, b.Level, a.Budget, b.Budget))];

        Window(controller, time, drops: 10, Long);
        var down = Windows(rungs.Length - 1, controller, time, drops: 10, Long);
        Assert.Equal(Steps(rungs), down);
        Assert.All(down, c => Assert.True(c.Down));
        Assert.Empty(Windows(3, controller, time, drops: 10, Long));
        Assert.Equal(rungs[^1], (controller.Budget, controller.Level));
        var up = Windows(60, controller, time, drops: 0, Short);
        Assert.Equal(Steps(rungs.Reverse()), up);
        Assert.All(up, c => Assert.Equal("up", c.Direction));
        Assert.Equal(rungs[0], (controller.Budget, controller.Level));
        return down;
    }

    [Fact]
    public void The_budget_ladder_starts_at_the_streams_budget_and_stops_at_its_floor()
    {
        Assert.Equal([0.9, 0.7, 0.5], ComputeController.BudgetLadder(0.9, 0.5, 0.2));
        Assert.Equal([1, 0.8, 0.6, 0.5], ComputeController.BudgetLadder(1, 0.5, 0.2));
        Assert.Equal([0.4], ComputeController.BudgetLadder(0.4, 0.4, 0.2));
        Assert.Equal([1, 0.75, 0.5], ComputeController.BudgetLadder(1, 0.5, 0.25));
        // Without a policy the budget stays 1 and the ladder is the levels alone.
        var time = new FakeTimeProvider();
        var plain = new ComputeController(ComputeLevel.Full, ComputeLevel.Reduced, Options, time);
        Window(plain, time, drops: 10, Long);
        Assert.Equal([new LevelChange(ComputeLevel.Full, ComputeLevel.Reduced)], Window(plain, time, drops: 10, Long));
        Assert.Equal(1, plain.Budget);
        Assert.Throws<ArgumentException>(() => new ComputeController(ComputeLevel.Full, ComputeLevel.Minimal, Options, time, budgets: [1, 1.2]));
        Assert.Contains("budget step", string.Join("; ", (Options with { BudgetStep = 0 }).Validate()));
    }

    /// <summary>A stream's first frames are full passes: drops while it starts do not step it down, later ones do.</summary>
    [Fact]
    public void Drops_within_the_start_up_grace_do_not_step_down()
    {
        var time = new FakeTimeProvider();
        time.Advance(TimeSpan.FromSeconds(30)); // the grace runs from the first frame, not from the controller's creation
        var controller = new ComputeController(ComputeLevel.Full, ComputeLevel.Minimal, Options with { StartupGrace = TimeSpan.FromSeconds(4) }, time);
        // A window is judged at the next one's first frame: the windows ending 2 s and 4 s after the first frame are in the grace.
        Assert.Empty(Windows(3, controller, time, drops: 10, Long));
        Assert.Equal(ComputeLevel.Full, controller.Level);
        Assert.Equal([new LevelChange(ComputeLevel.Full, ComputeLevel.Reduced)], Window(controller, time, drops: 10, Long)); // the one ending at 6 s
        Assert.True(new ComputeControllerOptions().StartupGrace > TimeSpan.Zero);
        Assert.Contains("start-up grace", string.Join("; ", (new ComputeControllerOptions { StartupGrace = TimeSpan.FromSeconds(-1) }).Validate()));
    }

    [Fact]
    public void One_drop_in_twenty_is_within_the_objective()
    {
        var time = new FakeTimeProvider();
        var controller = new ComputeController(ComputeLevel.Full, ComputeLevel.Minimal, Options, time);
        Assert.Empty(Windows(6, controller, time, drops: 1, Long));
        Assert.Equal(ComputeLevel.Full, controller.Level);
        Assert.Single(Windows(2, controller, time, drops: 2, Long));
    }

    [Fact]
    public void Headroom_must_last_the_hold_before_each_step_up_and_the_target_is_the_ceiling()
    {
        var time = new FakeTimeProvider();
        var controller = new ComputeController(ComputeLevel.Reduced, ComputeLevel.Minimal, Options, time);
        Windows(2, controller, time, drops: 10, Long);
        Assert.Equal(ComputeLevel.Minimal, controller.Level);
        // Headroom from the third window on; judged at the start of the next, so 10 s of it are seen after 6 windows.
        Assert.Empty(Windows(5, controller, time, drops: 0, Short));
        Assert.Equal(ComputeLevel.Minimal, controller.Level);
        var up = Windows(1, controller, time, drops: 0, Short);
        Assert.Equal([new LevelChange(ComputeLevel.Minimal, ComputeLevel.Reduced)], up);
        Assert.Equal("up", up[0].Direction);
        // Reduced is this stream's target: no further step up however long the headroom lasts.
        Assert.Empty(Windows(20, controller, time, drops: 0, Short));
        Assert.Equal(ComputeLevel.Reduced, controller.Level);
    }

    [Fact]
    public void A_window_without_headroom_restarts_the_hold()
    {
        var time = new FakeTimeProvider();
        var controller = new ComputeController(ComputeLevel.Full, ComputeLevel.Reduced, Options, time);
        Windows(2, controller, time, drops: 10, Long);
        Assert.Equal(ComputeLevel.Reduced, controller.Level);
        Assert.Empty(Windows(4, controller, time, drops: 0, Short));
        // No drop, but every frame waited most of an interval for a worker: near capacity, not headroom.
        Assert.Empty(Windows(1, controller, time, drops: 0, Long));
        Assert.Empty(Windows(5, controller, time, drops: 0, Short));
        Assert.Single(Windows(1, controller, time, drops: 0, Short));
        Assert.Equal(ComputeLevel.Full, controller.Level);
    }

    [Fact]
    public void Windows_with_too_few_frames_are_not_judged()
    {
        var time = new FakeTimeProvider();
        var controller = new ComputeController(ComputeLevel.Full, ComputeLevel.Minimal, Options, time);
        for (int i = 0; i < 10; i++)
        {
            Assert.Empty(Window(controller, time, drops: 4, Long, frames: 4));
        }
        Assert.Equal(ComputeLevel.Full, controller.Level);
    }

    [Fact]
    public void A_level_the_box_cannot_keep_is_retried_ever_more_rarely_instead_of_flapping()
    {
        var time = new FakeTimeProvider();
        var controller = new ComputeController(ComputeLevel.Full, ComputeLevel.Minimal, Options, time);
        var ups = new List<TimeSpan>();
        var start = time.GetUtcNow();
        // A box that keeps up at Reduced and below but drops a third of the frames at Full, for 10 minutes.
        for (int w = 0; w < 300; w++)
        {
            // Judge the last window first, so this one's drops follow the level it runs at.
            var changes = new[] { controller.Tick() }.OfType<LevelChange>()
                .Concat(Window(controller, time, drops: controller.Level == ComputeLevel.Full ? 7 : 0, Short));
            foreach (var change in changes)
            {
                if (!change.Down)
                {
                    ups.Add(time.GetUtcNow() - start);
                }
            }
            Assert.NotEqual(ComputeLevel.Minimal, controller.Level);
        }
        var gaps = ups.Zip(ups.Skip(1), (a, b) => b - a).ToList();
        // Hold 10 s, then 20, 40, 80, 80 ... (the factor stops at 8): a handful of probes in 10 minutes, never more often.
        Assert.InRange(ups.Count, 4, 10);
        Assert.All(gaps.Skip(3), g => Assert.True(g >= TimeSpan.FromSeconds(80), $"probe {g} after the previous one"));
        Assert.Equal(TimeSpan.FromSeconds(80), controller.UpHold);
    }

    [Fact]
    public void A_step_up_that_holds_forgives_a_doubling()
    {
        var time = new FakeTimeProvider();
        var controller = new ComputeController(ComputeLevel.Full, ComputeLevel.Reduced, Options, time);
        Windows(2, controller, time, drops: 10, Long);           // Full -> Reduced
        Windows(7, controller, time, drops: 0, Short);           // 10 s of headroom: back to Full
        Assert.Equal(ComputeLevel.Full, controller.Level);
        Windows(2, controller, time, drops: 10, Long);           // undone within probation: the hold doubles
        Assert.Equal(ComputeLevel.Reduced, controller.Level);
        Assert.Equal(TimeSpan.FromSeconds(20), controller.UpHold);
        Windows(18, controller, time, drops: 0, Short);          // 20 s of headroom, then past probation at Full
        Assert.Equal(ComputeLevel.Full, controller.Level);
        Assert.Equal(TimeSpan.FromSeconds(10), controller.UpHold);
    }

    [Fact]
    public void The_stagger_delays_a_streams_step_up()
    {
        var time = new FakeTimeProvider();
        var controller = new ComputeController(ComputeLevel.Full, ComputeLevel.Reduced, Options, time, stagger: TimeSpan.FromSeconds(4));
        Windows(2, controller, time, drops: 10, Long);
        Assert.Equal(TimeSpan.FromSeconds(14), controller.UpHold);
        Assert.Empty(Windows(7, controller, time, drops: 0, Short)); // an unstaggered stream steps up within these
        Assert.Single(Windows(1, controller, time, drops: 0, Short));
    }

    [Fact]
    public void A_floor_above_the_target_or_bad_options_are_refused_with_what_is_wrong()
    {
        var time = new FakeTimeProvider();
        var e = Assert.Throws<ArgumentException>(() => new ComputeController(ComputeLevel.Reduced, ComputeLevel.Full, Options, time));
        Assert.Contains("floor", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<ArgumentException>(() => new ComputeController(ComputeLevel.Full, (ComputeLevel)7, Options, time));
        Assert.Contains("floor 7", e.Message, StringComparison.Ordinal);
        e = Assert.Throws<ArgumentException>(() => new ComputeController(ComputeLevel.Full, ComputeLevel.Minimal,
            Options with { Window = TimeSpan.Zero, StepDownDropRatio = 1.5 }, time));
        Assert.Contains("window must be > 0", e.Message, StringComparison.Ordinal);
        Assert.Contains("step-down drop ratio must be in [0, 1), got 1.5", e.Message, StringComparison.Ordinal);
    }
}
