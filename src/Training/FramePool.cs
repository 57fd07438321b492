using StreamMtl.Training.Data;

namespace StreamMtl.Training;

/// <summary>
/// A fixed-size pool of training frames (rendered by the synthetic camera or loaded from a data set on disk). The trainer samples from it (with random crops and
/// flips) and replaces a few frames per step, so rendering costs a fraction of a step while the data
/// keeps changing. Everything is drawn from seeded generators, so a run is reproducible.
/// With <c>neighbourGap</c> &gt; 0 each entry also holds a neighbouring frame of the same sequence, 1 to
/// neighbourGap frames later (same scene, camera motion and fresh sensor noise), for the temporal-consistency penalty.
/// Every slot's content follows from one integer seed, so a resumed run can rebuild the pool a straight run
/// would hold at that step (<see cref="AfterReplacements"/>).
/// </summary>
public sealed class FramePool
{
    private readonly TruthFrame[] _frames;
    private readonly TruthFrame?[] _neighbours;
    private readonly ITrainingFrames _dataset;
    private readonly int _neighbourGap;

    public FramePool(ITrainingFrames dataset, int size, int seed, int neighbourGap = 0)
        : this(dataset, InitialSeeds(size, seed), neighbourGap, size)
    {
    }

    private FramePool(ITrainingFrames dataset, int[] slotSeeds, int neighbourGap, long rendered)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(neighbourGap);
        if (neighbourGap > 0 && !dataset.HasNeighbours)
        {
            throw new ArgumentException($"neighbouring frames (the temporal penalty) need sequences; {dataset.Description} has none");
        }
        _dataset = dataset;
        _neighbourGap = neighbourGap;
        _frames = new TruthFrame[slotSeeds.Length];
        _neighbours = new TruthFrame?[slotSeeds.Length];
        Unwrapped(() => Parallel.For(0, slotSeeds.Length, i => RenderInto(i, slotSeeds[i])));
        Rendered = rendered;
    }

    /// <summary>
    /// The pool a fresh one of this seed holds after <paramref name="steps"/> calls of
    /// <c>Replace(count, stepRandom(step))</c>, step = 0..steps-1. Only the frames still in the pool are
    /// rendered; <see cref="Rendered"/> counts what the straight run rendered.
    /// </summary>
    public static FramePool AfterReplacements(ITrainingFrames dataset, int size, int seed, int neighbourGap,
        int steps, int count, Func<int, Random> stepRandom)
    {
        var seeds = InitialSeeds(size, seed);
        for (int step = 0; step < steps; step++)
        {
            foreach (var (slot, slotSeed) in DrawReplacements(size, count, stepRandom(step)))
            {
                seeds[slot] = slotSeed;
            }
        }
        return new FramePool(dataset, seeds, neighbourGap, size + (long)steps * count);
    }

    public int Size => _frames.Length;

    /// <summary>Frames rendered so far (initial fill plus replacements).</summary>
    public long Rendered { get; private set; }

    public TruthFrame this[int index] => _frames[index];

    public TruthFrame Sample(Random rng) => _frames[rng.Next(_frames.Length)];

    /// <summary>A frame and its neighbour (needs a pool built with a neighbour gap).</summary>
    public (TruthFrame Frame, TruthFrame Neighbour) SamplePair(Random rng)
    {
        if (_neighbourGap == 0)
        {
            throw new InvalidOperationException("this frame pool was built without neighbouring frames");
        }
        int i = rng.Next(_frames.Length);
        return (_frames[i], _neighbours[i]!);
    }

    /// <summary>Replaces <paramref name="count"/> random pool entries with freshly rendered frames.</summary>
    public void Replace(int count, Random rng)
    {
        var jobs = DrawReplacements(_frames.Length, count, rng);
        Unwrapped(() => Parallel.ForEach(jobs, job => RenderInto(job.Slot, job.Seed)));
        Rendered += count;
    }

    private static int[] InitialSeeds(int size, int seed) =>
        Enumerable.Range(0, size).Select(i => unchecked(seed * 1_000_003 + i)).ToArray();

    // The slots to re-render and their seeds; a slot drawn twice keeps its first seed.
    private static (int Slot, int Seed)[] DrawReplacements(int size, int count, Random rng) =>
        Enumerable.Range(0, count).Select(_ => (Slot: rng.Next(size), Seed: rng.Next())).DistinctBy(j => j.Slot).ToArray();

    // A data set's error (a corrupt or missing file) reaches the caller as itself, not wrapped by the parallel loop.
    private static void Unwrapped(Action fill)
    {
        try
        {
            fill();
        }
        catch (AggregateException e) when (e.Flatten().InnerExceptions.OfType<DatasetException>().FirstOrDefault() is { } first)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(first);
        }
    }

    private void RenderInto(int slot, int seed)
    {
        (_frames[slot], _neighbours[slot]) = _dataset.Draw(new Random(seed), _neighbourGap);
    }
}
