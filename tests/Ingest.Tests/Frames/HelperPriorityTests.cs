using StreamMtl.Ingest.Files;
using StreamMtl.Ingest.Frames;
using StreamMtl.Ingest.Sources;
using StreamMtl.Ingest.Synthetic;
using StreamMtl.Ingest.Tests.Infrastructure;

namespace StreamMtl.Ingest.Tests.Frames;

/// <summary>
/// Helper threads lower their own priority and no other thread's. The checks run on threads of their own, except the
/// render-ahead one (its renders run on the pool, which keeps those threads a little lower for the rest of the run; no
/// test is timed), and the process-wide setting goes back to what it was afterwards.
/// </summary>
[CollectionDefinition(nameof(HelperPriorityTests), DisableParallelization = true)]
public sealed class HelperPriorityCollection;

[Collection(nameof(HelperPriorityTests))]
public sealed class HelperPriorityTests
{
    [Fact]
    public void A_helper_thread_takes_the_nice_value_once_and_other_threads_keep_theirs()
    {
        // A thread starts at its creator's value: the test's own, which an earlier render-ahead test may have left at 4.
        int start = OnThread(HelperPriority.Current);
        Assert.InRange(start, 0, 4);
        var (helper, again) = WithNice(7, () =>
        {
            int before = HelperPriority.Current();
            Assert.Equal(start, before);
            HelperPriority.Apply();
            int first = HelperPriority.Current();
            HelperPriority.Nice = 3;
            HelperPriority.Apply();
            int second = HelperPriority.Current();
            HelperPriority.Nice = 7;
            return (first, second);
        });
        Assert.Equal(7, helper);
        Assert.Equal(7, again); // never raised back: an unprivileged thread could not, and the helper stays a helper
        Assert.Equal(start, OnThread(HelperPriority.Current)); // the creating thread was not touched
    }

    [Fact]
    public void Nothing_changes_at_zero_and_values_outside_0_to_19_are_refused()
    {
        int start = OnThread(HelperPriority.Current);
        Assert.Equal(start, WithNice(0, () =>
        {
            HelperPriority.Apply();
            return HelperPriority.Current();
        }));
        Assert.Throws<ArgumentOutOfRangeException>(() => HelperPriority.Nice = 20);
        Assert.Throws<ArgumentOutOfRangeException>(() => HelperPriority.Nice = -1);
    }

    [Fact]
    public async Task A_file_source_decodes_on_a_lowered_thread()
    {
        await using var source = new FileFrameSource(TestPaths.Video("vtest.avi"), new SourceOptions { Pacing = Pacing.Batch });
        // The first frame decodes synchronously in MoveNextAsync, on the calling thread.
        int nice = WithNice(5, () =>
        {
            var frames = source.ReadAsync().GetAsyncEnumerator();
            Assert.True(frames.MoveNextAsync().AsTask().GetAwaiter().GetResult());
            frames.Current.Dispose();
            frames.DisposeAsync().AsTask().GetAwaiter().GetResult();
            return HelperPriority.Current();
        });
        Assert.Equal(5, nice);
    }

    [Fact]
    public void A_synthetic_render_ahead_runs_on_lowered_threads()
    {
        int previous = HelperPriority.Nice;
        HelperPriority.Nice = 4;
        try
        {
            using var ahead = new RenderAhead<int>(_ => HelperPriority.Current(), _ => { }, first: 0, end: 3, depth: 2);
            Assert.All(Enumerable.Range(0, 3).Select(_ => ahead.Take()), n => Assert.Equal(4, n));
        }
        finally
        {
            HelperPriority.Nice = previous;
        }
    }

    private static T WithNice<T>(int nice, Func<T> body)
    {
        int previous = HelperPriority.Nice;
        HelperPriority.Nice = nice;
        try
        {
            return OnThread(body);
        }
        finally
        {
            HelperPriority.Nice = previous;
        }
    }

    private static T OnThread<T>(Func<T> body)
    {
        T result = default!;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            try
            {
                result = body();
            }
            catch (Exception e)
            {
                failure = e;
            }
        });
        thread.Start();
        thread.Join();
        return failure is null ? result : throw new InvalidOperationException("the body failed on its thread", failure);
    }
}
