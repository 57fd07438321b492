using StreamMtl.Pipeline.Results;
using StreamMtl.Server.Capacity;
using StreamMtl.Api.V1;
using Task = System.Threading.Tasks.Task;

namespace StreamMtl.Server.Tests.Capacity;

/// <summary>The pieces a capacity run is computed from: the search over stream counts, /proc CPU time, /metrics drop counters, percentiles.</summary>
public sealed class CapacityFiguresTests
{
    private static StreamsRun Run(int n, bool sustains) => new("src", n, false, false, 10, 30, 1.5,
        [.. Enumerable.Range(0, n).Select(i => new StreamFigures($"s{i}", 10, sustains ? 10 : 5, 10, sustains ? 1.0 : 0.5,
            new Dictionary<string, long>(), 0.1, new Percentiles(20, 25, 10), new Percentiles(40, 60, 10)))]);

    [Theory]
    [InlineData(5, 8, 5, new[] { 1, 2, 4, 8, 6, 5 })]
    [InlineData(8, 8, 8, new[] { 1, 2, 4, 8 })]
    [InlineData(20, 12, 12, new[] { 1, 2, 4, 8, 12 })]
    [InlineData(0, 8, 0, new[] { 1 })]
    [InlineData(1, 8, 1, new[] { 1, 2 })]
    [InlineData(3, 8, 3, new[] { 1, 2, 4, 3 })]
    public async Task The_search_doubles_then_bisects_to_the_largest_sustained_count(int capacity, int max, int expected, int[] probes)
    {
        var tried = new List<int>();
        var (largest, runs) = await CapacitySearch.FindAsync(n =>
        {
            tried.Add(n);
            return Task.FromResult(Run(n, n <= capacity));
        }, max);
        Assert.Equal(expected, largest);
        Assert.Equal(probes, tried);
        Assert.Equal(probes, runs.Select(r => r.StreamCount));
    }

    [Fact]
    public void A_run_sustains_only_when_its_worst_stream_keeps_99_percent()
    {
        var figures = (double share) => new StreamFigures("s", 10, 10 * share, 10, share, new Dictionary<string, long>(), 0,
            new Percentiles(10, 30, 5), new Percentiles(1, 1, 5));
        var run = new StreamsRun("src", 2, false, false, 10, 30, 1, [figures(1.0), figures(0.985)]);
        Assert.False(run.Sustains);
        Assert.Equal(0.985, run.MinSustained, 6);
        Assert.Equal(3.0, run.WorstInferenceSpread, 6);
        Assert.True((run with { Streams = [figures(1.0), figures(0.99)] }).Sustains);
    }

    [Fact]
    public void Cpu_time_is_utime_plus_stime_read_after_the_last_parenthesis_of_the_command_name()
    {
        // A command name with a space and a ')' in it; utime 250 and stime 50 ticks = 3 s.
        string stat = "4242 (dot net) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 12 0 123 456 789";
        Assert.Equal(3.0, ProcessCpu.Parse(stat), 9);
        Assert.Throws<FormatException>(() => ProcessCpu.Parse("no name here"));
        Assert.Throws<FormatException>(() => ProcessCpu.Parse("1 (x) S 1 2"));
        Assert.True(ProcessCpu.Seconds(Environment.ProcessId) > 0, "this test process has used CPU time");
        Assert.Null(ProcessCpu.Seconds(int.MaxValue));
        // cutime 100 and cstime 30 ticks (reaped children), parent 1.
        Assert.Equal((3.0, 1.3, 1), ProcessCpu.Fields("4242 (dot net) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 100 30 20 0 12 0 123 456 789"));
    }

    [Fact]
    public async Task The_tree_counts_a_live_child_and_keeps_its_time_once_reaped()
    {
        double before = ProcessCpu.TreeSeconds(Environment.ProcessId)!.Value;
        double ownBefore = ProcessCpu.Seconds(Environment.ProcessId)!.Value;
        // A child that spins until killed. How fast it gathers CPU time depends on the host's load, so the test waits
        // (bounded) for its time to show in the tree rather than sleeping a fixed while.
        using var child = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("bash",
            ["-c", "while :; do :; done"]) { UseShellExecute = false })!;
        try
        {
            double live = before, own = ownBefore;
            await Eventually.UntilAsync(() =>
            {
                live = ProcessCpu.TreeSeconds(Environment.ProcessId)!.Value;
                own = ProcessCpu.Seconds(Environment.ProcessId)!.Value;
                return live - before - (own - ownBefore) > 0.3;
            }, TimeSpan.FromSeconds(60), () => $"the spinning child's CPU is counted: tree +{live - before:F2} s, own +{own - ownBefore:F2} s");
            child.Kill();
            await child.WaitForExitAsync();
            Assert.True(ProcessCpu.TreeSeconds(Environment.ProcessId) >= live, "reaped, the child's time stays in the sum");
        }
        finally
        {
            if (!child.HasExited)
            {
                child.Kill();
            }
        }
    }

    [Fact]
    public void Drop_counters_are_read_per_stream_and_reason_and_differenced()
    {
        const string before = """
            # HELP streammtl_frames_dropped_total Frames or results dropped, by reason.
            # TYPE streammtl_frames_dropped_total counter
            streammtl_frames_dropped_total{stream="s0",reason="inference_busy"} 3
            streammtl_frames_dropped_total{stream="s0",reason="subscriber_slow"} 0
            streammtl_frames_dropped_total{reason="inference_busy",stream="s1"} 1e1
            streammtl_frames_ingested_total{stream="s0"} 500
            """;
        const string after = """
            streammtl_frames_dropped_total{stream="s0",reason="inference_busy"} 10
            streammtl_frames_dropped_total{stream="s0",reason="subscriber_slow"} 2
            streammtl_frames_dropped_total{stream="s0",reason="decode_error"} 1
            streammtl_frames_dropped_total{reason="inference_busy",stream="s1"} 12
            """;
        var a = DropCounts.Parse(before);
        var b = DropCounts.Parse(after);
        Assert.Equal(["s0", "s1"], a.Keys.Order());
        Assert.Equal(10, a["s1"]["inference_busy"]);
        var s0 = DropCounts.Between(a["s0"], b["s0"]);
        Assert.Equal(7, s0["inference_busy"]);
        Assert.Equal(2, s0["subscriber_slow"]);
        Assert.Equal(1, s0["decode_error"]);
        Assert.Equal(2, DropCounts.Between(a["s1"], b["s1"])["inference_busy"]);
        Assert.Empty(DropCounts.Between(null, null));
    }

    [Fact]
    public void Stage_times_are_read_from_the_histograms_sums_and_counts_and_averaged_between_readings()
    {
        const string before = """
            streammtl_stage_latency_seconds_sum{stream="s0",stage="inference"} 2.0
            streammtl_stage_latency_seconds_count{stream="s0",stage="inference"} 100
            streammtl_stage_latency_seconds_bucket{stream="s0",stage="inference",le="0.05"} 90
            streammtl_stage_latency_seconds_sum{stream="s0",stage="encode"} 0.5
            streammtl_stage_latency_seconds_count{stream="s0",stage="encode"} 100
            streammtl_end_to_end_latency_seconds_sum{stream="s0"} 9
            """;
        const string after = """
            streammtl_stage_latency_seconds_sum{stream="s0",stage="inference"} 3.5
            streammtl_stage_latency_seconds_count{stream="s0",stage="inference"} 150
            streammtl_stage_latency_seconds_sum{stream="s0",stage="encode"} 0.5
            streammtl_stage_latency_seconds_count{stream="s0",stage="encode"} 100
            streammtl_stage_latency_seconds_count{stage="queue",stream="s0"} 4
            streammtl_stage_latency_seconds_sum{stage="queue",stream="s0"} 0.02
            """;
        var a = StageTimes.Parse(before);
        var b = StageTimes.Parse(after);
        Assert.Equal((2.0, 100L), a["s0"]["inference"]);
        var means = StageTimes.MeanMsBetween(a["s0"], b["s0"]);
        Assert.Equal(30.0, means["inference"], 9);   // 1.5 s over 50 frames
        Assert.Equal(5.0, means["queue"], 9);         // first seen after: counted from 0
        Assert.False(means.ContainsKey("encode"));    // nothing observed in between
        Assert.Empty(StageTimes.MeanMsBetween(null, null));

        var run = Run(2, true);
        run = run with { Streams = [run.Streams[0] with { StageMs = means }, run.Streams[1] with { StageMs = new Dictionary<string, double> { ["inference"] = 10 } }] };
        Assert.Equal(20.0, run.MeanStageMs["inference"], 9);
        Assert.Equal(5.0, run.MeanStageMs["queue"], 9);
    }

    [Fact]
    public void Percentiles_are_nearest_rank()
    {
        var p = Percentiles.Of([.. Enumerable.Range(1, 200).Select(i => (double)i)]);
        Assert.Equal((100.0, 198.0, 200), (p.P50, p.P99, p.Count));
        var one = Percentiles.Of([7.0]);
        Assert.Equal((7.0, 7.0), (one.P50, one.P99));
        Assert.True(double.IsNaN(Percentiles.Of([]).P50));
    }
    [Fact]
    public void The_recorder_counts_levels_and_the_mean_compute_budget_of_what_it_received_while_measuring()
    {
        var recorder = new ResultRecorder("s");
        static FrameResult Result(ComputeLevel level, double budget) =>
            new() { StreamId = "s", Accounting = new Accounting { ComputeLevel = level, ComputeBudget = budget } };
        recorder.Record(Result(ComputeLevel.Minimal, 0.4), DateTimeOffset.UtcNow);   // before the window: not counted
        Assert.Equal(1, recorder.MeanComputeBudget());
        recorder.Measuring = true;
        recorder.Record(Result(ComputeLevel.Full, 1), DateTimeOffset.UtcNow);
        recorder.Record(Result(ComputeLevel.Full, 0.6), DateTimeOffset.UtcNow);
        recorder.Record(Result(ComputeLevel.Reduced, 0.4), DateTimeOffset.UtcNow);
        recorder.Record(Result(ComputeLevel.Unspecified, 0), DateTimeOffset.UtcNow);   // no budget field: every block ran
        Assert.Equal((1 + 0.6 + 0.4 + 1) / 4, recorder.MeanComputeBudget(), 9);
        var levels = recorder.LevelShares();
        Assert.Equal(0.75, levels["full"], 9);
        Assert.Equal(0.25, levels["reduced"], 9);
        Assert.Equal(0, levels["minimal"], 9);
        Assert.Equal(4, recorder.Snapshot().Received);
    }
}
