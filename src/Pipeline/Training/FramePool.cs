using StreamMtl.Ingest.Synthetic;

namespace StreamMtl.Pipeline.Training;

/// <summary>
/// A fixed-size pool of rendered training frames. The trainer samples from it (with random crops and
/// flips) and replaces a few frames per step, so rendering costs a fraction of a step while the data
/// keeps changing. Everything is drawn from seeded generators, so a run is reproducible.
/// With <c>neighbourGap</c> &gt; 0 each entry also holds a neighbouring frame of the same sequence, 1 to
/// neighbourGap frames later (same scene, camera motion and fresh sensor noise), for the temporal-consistency penalty.
/// </summary>
public sealed class FramePool
{
    private readonly TruthFrame[] _frames;
    private readonly TruthFrame?[] _neighbours;
    private readonly SyntheticDataset _dataset;
    private readonly int _neighbourGap;

    public FramePool(SyntheticDataset dataset, int size, int seed, int neighbourGap = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(neighbourGap);
        _dataset = dataset;
        _neighbourGap = neighbourGap;
        _frames = new TruthFrame[size];
        _neighbours = new TruthFrame?[size];
        Parallel.For(0, size, i => RenderInto(i, new Random(unchecked(seed * 1_000_003 + i))));
        Rendered = size;
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
        var jobs = Enumerable.Range(0, count).Select(_ => (Slot: rng.Next(_frames.Length), Seed: rng.Next()))
            .DistinctBy(j => j.Slot).ToArray();
        Parallel.ForEach(jobs, job => RenderInto(job.Slot, new Random(job.Seed)));
        Rendered += count;
    }

    private void RenderInto(int slot, Random rng)
    {
        var spec = _dataset.Sequence(rng.Next(_dataset.SeedCount));
        var camera = new SyntheticCamera(spec) { MaxDegreeOfParallelism = 1 };
        int index = rng.Next(Math.Max(1, _dataset.FramesPerSequence - _neighbourGap));
        _frames[slot] = TruthFrame.Render(camera, index);
        _neighbours[slot] = _neighbourGap > 0 ? TruthFrame.Render(camera, index + 1 + rng.Next(_neighbourGap)) : null;
    }
}
