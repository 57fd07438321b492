using StreamMtl.Ingest.Frames;
namespace StreamMtl.Ingest.Synthetic;

/// <summary>
/// Renders frames <c>first</c>, <c>first + 1</c>, ... (up to <c>end</c>, exclusive) in order, with up to
/// <c>depth</c> of them in flight on the thread pool: while the reader works on frame k, frames k+1 .. k+depth render
/// on other cores. A frame depends only on the spec and its index (<see cref="SyntheticCamera"/>), so the frames are
/// the same as rendering them one after another. Bounded: at most <c>depth</c> renders in flight plus the frame the
/// reader holds, which it gives up by asking for the next one; a renderer into reused buffers therefore needs
/// <c>depth + 1</c> of them (frame i may use buffer i mod (depth + 1)). Disposing waits for the renders in flight
/// and hands their results to <c>discard</c> (e.g. to dispose their Mats). Not thread-safe: one reader.
/// </summary>
internal sealed class RenderAhead<T> : IDisposable, IAsyncDisposable
{
    private readonly Func<long, T> _render;
    private readonly Action<T> _discard;
    private readonly long _end;
    private readonly int _depth;
    private readonly Queue<Task<T>> _pending = new();
    private long _next;
    private bool _disposed;

    public RenderAhead(Func<long, T> render, Action<T> discard, long first, long end, int depth)
    {
        ArgumentNullException.ThrowIfNull(render);
        ArgumentNullException.ThrowIfNull(discard);
        ArgumentOutOfRangeException.ThrowIfLessThan(depth, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(end, first);
        _render = render;
        _discard = discard;
        _next = first;
        _end = end;
        _depth = depth;
        TopUp();
    }

    /// <summary>Whether frames remain to be taken.</summary>
    public bool HasNext => _pending.Count > 0;

    /// <summary>The next frame in order, blocking until it is rendered; the previous one is no longer the reader's.</summary>
    public T Take() => Finish(Head().GetAwaiter().GetResult());

    /// <summary>The next frame in order; the previous one is no longer the reader's.</summary>
    public async ValueTask<T> TakeAsync(CancellationToken cancellationToken = default) =>
        Finish(await Head().WaitAsync(cancellationToken).ConfigureAwait(false));

    public void Dispose()
    {
        foreach (var task in Drain())
        {
            ((Task)task).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing).GetAwaiter().GetResult();
            Discard(task);
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var task in Drain())
        {
            await ((Task)task).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            Discard(task);
        }
    }

    private Task<T> Head()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return _pending.Count > 0 ? _pending.Peek() : throw new InvalidOperationException("no frames left to take");
    }

    /// <summary>Dequeues the head once it is done (a cancelled wait leaves it queued), then starts the next render.</summary>
    private T Finish(T frame)
    {
        _pending.Dequeue();
        TopUp();
        return frame;
    }

    private void TopUp()
    {
        while (_pending.Count < _depth && _next < _end)
        {
            var index = _next++;
            _pending.Enqueue(Task.Run(() =>
            {
                HelperPriority.Apply();
                return _render(index);
            }));
        }
    }

    private Task<T>[] Drain()
    {
        _disposed = true;
        var tasks = _pending.ToArray();
        _pending.Clear();
        return tasks;
    }

    private void Discard(Task<T> task)
    {
        // A failed render has nothing to discard; its exception was the reader's to see had it got there.
        if (task.IsCompletedSuccessfully)
        {
            _discard(task.Result);
        }
    }
}
