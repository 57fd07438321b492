using OpenCvSharp;
using StreamMtl.Ingest.Frames;

namespace StreamMtl.Ingest.Synthetic;

/// <summary>
/// Ray-casts the seed's room into BGR pixels with exact ground truth. A render is a pure function of
/// (spec, frame index): rows are rendered in parallel but every pixel depends only on its own inputs. Safe to
/// call from several threads at once: the scene is immutable after construction.
/// A static camera sees the same room in every frame, so from its third render on (a camera asked for a frame or
/// two, as training draws are, never pays for it) it keeps a <see cref="StaticBackground"/> and traces only what
/// the objects and their shadows change; the bytes and truth are the same as a full trace.
/// </summary>
public sealed class SyntheticCamera
{
    // Bands of rows, not single rows: enough pieces to balance two to eight cores, few enough to keep overhead low.
    // Equal to the background's tile size, so a band covers one row of tiles.
    private const int RowsPerBand = StaticBackground.TileSize;

    /// <summary>Renders before a static camera builds its background cache.</summary>
    private const int RendersBeforeCaching = 2;

    /// <summary>Largest frame whose background is cached (about 62 bytes a pixel: 55 MiB at 1280x720).</summary>
    internal const int MaxCachedPixels = 1280 * 720;

    private readonly Scene _scene;
    private readonly Lock _backgroundLock = new();
    private StaticBackground? _background;
    private int _renders;

    public SyntheticCamera(SyntheticSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        Spec = spec;
        _scene = SceneBuilder.Build(spec);
    }

    public SyntheticSpec Spec { get; }

    /// <summary>Upper bound on threads used by one render; defaults to every core.</summary>
    public int MaxDegreeOfParallelism { get; init; } = Environment.ProcessorCount;

    /// <summary>Whether a static camera may cache its background (off: every frame is traced in full, for tests).</summary>
    internal bool CacheBackground { get; init; } = true;

    /// <summary>Whether the background cache has been built (for tests).</summary>
    internal bool HasBackground => Volatile.Read(ref _background) is not null;

    /// <summary>Scene time of a frame: motion is a function of time, so fps sets the motion per frame.</summary>
    public float TimeOf(long frameIndex) => (float)(frameIndex / Spec.Fps);

    /// <summary>Camera pose at a frame, e.g. to turn world directions into expected camera-space normals.</summary>
    public CameraPose PoseAt(long frameIndex) => _scene.Rig.PoseAt(TimeOf(frameIndex), Spec.Width, Spec.Height);

    /// <summary>Centres and class ids of the objects at a frame (world coordinates), for tests and tools.</summary>
    internal IReadOnlyList<(byte ClassId, Vec3 Centre)> ObjectsAt(long frameIndex)
    {
        var time = TimeOf(frameIndex);
        return _scene.Objects.Select(o => (o.ClassId, o.Place(time).Centre)).ToArray();
    }

    /// <summary>Renders a new frame (and its truth) into a freshly allocated Mat the frame owns.</summary>
    public Frame RenderFrame(long frameIndex, bool withTruth, DateTimeOffset? captureTime = null) =>
        RenderFrame(frameIndex, withTruth, captureTime ?? TimeProvider.System.GetUtcNow(), MaxDegreeOfParallelism);

    /// <summary>
    /// Frames <paramref name="first"/> .. <paramref name="end"/> - 1 as new Frames, in order, with
    /// <see cref="FramesInFlight"/> rendering at once on <see cref="ThreadsPerFrameInFlight"/> threads each; frames
    /// not taken are disposed with the queue. <paramref name="captureTime"/> is read when a frame starts rendering.
    /// </summary>
    internal RenderAhead<Frame> FramesAhead(long first, long end, bool withTruth, Func<DateTimeOffset> captureTime)
    {
        var threads = ThreadsPerFrameInFlight;
        return new RenderAhead<Frame>(index => RenderFrame(index, withTruth, captureTime(), threads), frame => frame.Dispose(),
            first, end, FramesInFlight);
    }

    /// <summary>Frames a reader that is not paced keeps rendering at once, each on its share of the cores (see <see cref="RenderAhead{T}"/>).</summary>
    internal const int FramesInFlight = 2;

    /// <summary>Threads each of <see cref="FramesInFlight"/> frames rendering at once may use.</summary>
    internal int ThreadsPerFrameInFlight => Math.Max(1, MaxDegreeOfParallelism / FramesInFlight);

    private unsafe Frame RenderFrame(long frameIndex, bool withTruth, DateTimeOffset captureTime, int maxDegreeOfParallelism)
    {
        var truth = withTruth ? CreateTruth() : null;
        var image = new Mat(Spec.Height, Spec.Width, MatType.CV_8UC3);
        try
        {
            Render(frameIndex, new Span<byte>(image.DataPointer, Spec.Width * Spec.Height * 3), truth, maxDegreeOfParallelism);
            var timestamp = TimeSpan.FromSeconds(frameIndex / Spec.Fps);
            return new Frame(image, frameIndex, timestamp, captureTime, truth);
        }
        catch
        {
            image.Dispose();
            throw;
        }
    }

    /// <summary>Allocates ground-truth arrays of this camera's size.</summary>
    public FrameTruth CreateTruth()
    {
        var n = Spec.Width * Spec.Height;
        return new FrameTruth(Spec.Width, Spec.Height, new byte[n], new float[n], new float[3 * n]);
    }

    /// <summary>Writes Height*Width*3 BGR bytes and, when <paramref name="truth"/> is given, its labels, depth and normals.</summary>
    public void Render(long frameIndex, Span<byte> bgr, FrameTruth? truth) => Render(frameIndex, bgr, truth, MaxDegreeOfParallelism);

    /// <summary>The same on at most <paramref name="maxDegreeOfParallelism"/> threads (1: on the calling thread alone).</summary>
    internal unsafe void Render(long frameIndex, Span<byte> bgr, FrameTruth? truth, int maxDegreeOfParallelism)
    {
        int w = Spec.Width, h = Spec.Height;
        if (bgr.Length < w * h * 3)
        {
            throw new ArgumentException($"buffer holds {bgr.Length} bytes, a {w}x{h} BGR frame needs {w * h * 3}", nameof(bgr));
        }
        if (truth is not null && (truth.Width != w || truth.Height != h || truth.Labels.Length < w * h
            || truth.Depth.Length < w * h || truth.Normals.Length < 3 * w * h))
        {
            throw new ArgumentException($"ground truth must be {w}x{h}", nameof(truth));
        }

        var time = TimeOf(frameIndex);
        var pose = _scene.Rig.PoseAt(time, w, h);
        var job = new RenderJob(_scene, pose, time, frameIndex, Spec.Seed, (float)Spec.Noise, w, h, Background(pose));
        if (maxDegreeOfParallelism == 1)
        {
            for (var y = 0; y < h; y++)
            {
                job.RenderRow(y, bgr.Slice(y * w * 3, w * 3), truth);
            }
            return;
        }
        var bands = (h + RowsPerBand - 1) / RowsPerBand;
        fixed (byte* pixels = bgr)
        {
            var address = (nint)pixels;
            Parallel.For(0, bands, new ParallelOptions { MaxDegreeOfParallelism = maxDegreeOfParallelism }, band =>
            {
                var end = Math.Min(h, (band + 1) * RowsPerBand);
                for (var y = band * RowsPerBand; y < end; y++)
                {
                    job.RenderRow(y, new Span<byte>((byte*)address + (long)y * w * 3, w * 3), truth);
                }
            });
        }
    }

    /// <summary>The static camera's background cache once it pays (null before, and for moving or very large cameras).</summary>
    private StaticBackground? Background(CameraPose pose)
    {
        if (!CacheBackground || Spec.Mode != SyntheticMode.Static || (long)Spec.Width * Spec.Height > MaxCachedPixels)
        {
            return null;
        }
        if (Volatile.Read(ref _background) is { } background)
        {
            return background;
        }
        if (Interlocked.Increment(ref _renders) <= RendersBeforeCaching)
        {
            return null;
        }
        lock (_backgroundLock)
        {
            if (_background is null)
            {
                Volatile.Write(ref _background, StaticBackground.Build(_scene, pose, Spec.Width, Spec.Height, MaxDegreeOfParallelism));
            }
            return _background;
        }
    }
}
