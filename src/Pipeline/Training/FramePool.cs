using StreamMtl.Ingest.Synthetic;

namespace StreamMtl.Pipeline.Training;

/// <summary>
/// A fixed-size pool of rendered training frames. The trainer samples from it (with random crops and
/// flips) and replaces a few frames per step, so rendering costs a fraction of a step while the data
/// keeps changing. Everything is drawn from seeded generators, so a run is reproducible.
/// </summary>
public sealed class FramePool
{
    private readonly TruthFrame[] _frames;
    private readonly SyntheticDataset _dataset;

    public FramePool(SyntheticDataset dataset, int size, int seed)
    {
        _dataset = dataset;
        _frames = new TruthFrame[size];
        Parallel.For(0, size, i => _frames[i] = RenderRandom(new Random(unchecked(seed * 1_000_003 + i))));
        Rendered = size;
    }

    public int Size => _frames.Length;

    /// <summary>Frames rendered so far (initial fill plus replacements).</summary>
    public long Rendered { get; private set; }

    public TruthFrame this[int index] => _frames[index];

    public TruthFrame Sample(Random rng) => _frames[rng.Next(_frames.Length)];

    /// <summary>Replaces <paramref name="count"/> random pool entries with freshly rendered frames.</summary>
    public void Replace(int count, Random rng)
    {
        var jobs = Enumerable.Range(0, count).Select(_ => (Slot: rng.Next(_frames.Length), Seed: rng.Next()))
            .DistinctBy(j => j.Slot).ToArray();
        Parallel.ForEach(jobs, job => _frames[job.Slot] = RenderRandom(new Random(job.Seed)));
        Rendered += count;
    }

    private TruthFrame RenderRandom(Random rng)
    {
        var spec = _dataset.Sequence(rng.Next(_dataset.SeedCount));
        var camera = new SyntheticCamera(spec) { MaxDegreeOfParallelism = 1 };
        return TruthFrame.Render(camera, rng.Next(_dataset.FramesPerSequence));
    }
}
