using System.Runtime.CompilerServices;
using StreamMtl.Ingest.Frames;
using StreamMtl.Ingest.Sources;

namespace StreamMtl.Ingest.Synthetic;

/// <summary>
/// The synthetic camera as a frame source: the service's embedded default input, and a test source with exact
/// ground truth. With <see cref="SyntheticSpec.Realtime"/> it behaves like a live camera: frames are paced at the
/// spec's fps and, if the reader falls a whole frame behind, the skipped indices are dropped rather than
/// delivered late, so scene time keeps up with the wall clock (the reader sees the gap in <see cref="Frame.Index"/>).
/// Without it, frames are rendered ahead: <see cref="SyntheticCamera.FramesInFlight"/> at once, so the next frame
/// renders on another core while the reader works on this one (at most that many frames beyond the reader's, each
/// disposed if the read ends first).
/// </summary>
public sealed class SyntheticSource : IFrameSource
{
    private readonly SyntheticCamera _camera;
    private readonly TimeProvider _time;
    private volatile bool _disposed;

    public SyntheticSource(SyntheticSpec spec, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(spec);
        _camera = new SyntheticCamera(spec);
        _time = timeProvider ?? TimeProvider.System;
    }

    /// <summary>Parses a <c>synthetic://</c> URI; bad parameters throw <see cref="SourceException"/> (InvalidUri).</summary>
    public static SyntheticSource Open(string uri, TimeProvider? timeProvider = null) => new(SyntheticSpec.Parse(uri), timeProvider);

    public SyntheticSpec Spec => _camera.Spec;

    /// <summary>Gives access to poses and direct rendering, e.g. for tools that need the camera model.</summary>
    public SyntheticCamera Camera => _camera;

    public string DisplayUri => Spec.ToUri();

    public SourceInfo Info => new(Spec.Width, Spec.Height, Spec.Fps, Spec.Frames ?? 0, IsLive: Spec.Realtime);

    public async IAsyncEnumerable<Frame> ReadAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!Spec.Realtime)
        {
            // Unpaced: the next frame renders on another core while the reader works on this one.
            await using var ahead = _camera.FramesAhead(0, Spec.Frames ?? long.MaxValue, Spec.Truth, _time.GetUtcNow);
            while (!_disposed && ahead.HasNext)
            {
                cancellationToken.ThrowIfCancellationRequested();
                yield return await ahead.TakeAsync(cancellationToken).ConfigureAwait(false);
            }
            yield break;
        }
        var start = _time.GetTimestamp();
        var index = 0L;
        while (!_disposed && (Spec.Frames is not long count || index < count))
        {
            cancellationToken.ThrowIfCancellationRequested();
            var elapsed = _time.GetElapsedTime(start);
            var due = TimeSpan.FromSeconds(index / Spec.Fps);
            if (due > elapsed)
            {
                await Task.Delay(due - elapsed, _time, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                index = Math.Max(index, (long)Math.Floor(elapsed.TotalSeconds * Spec.Fps));
                if (Spec.Frames is long total && index >= total)
                {
                    yield break;
                }
            }
            if (_disposed)
            {
                yield break;
            }
            yield return _camera.RenderFrame(index, Spec.Truth, _time.GetUtcNow());
            index++;
        }
    }

    /// <summary>Ends any running read after its current frame (frames rendered ahead are disposed as the read ends).</summary>
    public ValueTask DisposeAsync()
    {
        _disposed = true;
        return ValueTask.CompletedTask;
    }
}
