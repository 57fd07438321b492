using StreamMtl.Ingest.Frames;
using StreamMtl.Ingest.Synthetic;
using StreamMtl.Training.Data;

namespace StreamMtl.Training;

/// <summary>
/// Which synthetic sequences a split draws from. Training and evaluation seeds never overlap:
/// evaluation uses seeds below <see cref="FirstTrainingSeed"/>, training at or above it.
/// </summary>
public sealed record SyntheticDataset(int FirstSeed, int SeedCount, int Width = 320, int Height = 240, double Fps = 15, int FramesPerSequence = 300)
    : ITrainingFrames
{
    public const int FirstTrainingSeed = 10_000;

    /// <summary>Sequences of the evaluation set (seeds 1..8) that issue figures are measured on.</summary>
    public const int EvaluationSequences = 8;

    public static SyntheticDataset Training(int width = 320, int height = 240) => new(FirstTrainingSeed, 1_000_000, width, height);

    /// <summary>
    /// Held-out sequences: seeds firstSeed..firstSeed+count-1 (the evaluation set is 1..count; a validation set for
    /// choosing among models starts elsewhere below <see cref="FirstTrainingSeed"/>), half static camera, half moving.
    /// </summary>
    public static SyntheticDataset Evaluation(int count = EvaluationSequences, int width = 320, int height = 240, int firstSeed = 1)
    {
        if (firstSeed < 1 || (long)firstSeed + count > FirstTrainingSeed)
        {
            throw new ArgumentException($"held-out seeds {firstSeed}..{(long)firstSeed + count - 1} must lie in 1..{FirstTrainingSeed - 1}: training uses seeds from {FirstTrainingSeed}");
        }
        return new(firstSeed, count, width, height);
    }

    /// <summary>The spec of sequence <paramref name="i"/>: alternating static and moving cameras, varied object counts and noise.</summary>
    /// <summary>
    /// Frames 0, <paramref name="stride"/>, 2 x stride, .. (<paramref name="framesPerSequence"/> of them) of each of
    /// <paramref name="sequences"/> (indices into this set), in that order, with their truth; rendered in parallel.
    /// </summary>
    public List<TruthFrame> Render(IReadOnlyList<int> sequences, int framesPerSequence, int stride)
    {
        var jobs = sequences.SelectMany(s => Enumerable.Range(0, framesPerSequence).Select(f => (s, f))).ToList();
        var frames = new TruthFrame[jobs.Count];
        Parallel.For(0, jobs.Count, i =>
        {
            var (s, f) = jobs[i];
            var spec = Sequence(s) with { Frames = null };
            frames[i] = TruthFrame.Render(new SyntheticCamera(spec) { MaxDegreeOfParallelism = 1 }, (long)f * stride);
        });
        return [.. frames];
    }

    public SyntheticSpec Sequence(int i)
    {
        int seed = FirstSeed + i;
        var mix = new Random(seed);
        return new SyntheticSpec(
            Mode: i % 2 == 0 ? SyntheticMode.Static : SyntheticMode.Moving,
            Seed: seed,
            Width: Width,
            Height: Height,
            Fps: Fps,
            Noise: mix.Next(0, 4),
            Objects: mix.Next(3, 10),
            Frames: FramesPerSequence,
            Truth: true,
            Realtime: false);
    }

    public string Description => $"synthetic seeds >= {FirstSeed}, {Width}x{Height}, static and moving cameras";

    public bool HasNeighbours => true;

    /// <summary>A random frame of a random sequence, and its neighbour 1..<paramref name="neighbourGap"/> frames later (fresh sensor noise).</summary>
    public (TruthFrame Frame, TruthFrame? Neighbour) Draw(Random rng, int neighbourGap)
    {
        var spec = Sequence(rng.Next(SeedCount));
        var camera = new SyntheticCamera(spec) { MaxDegreeOfParallelism = 1 };
        int index = rng.Next(Math.Max(1, FramesPerSequence - neighbourGap));
        var frame = TruthFrame.Render(camera, index);
        return (frame, neighbourGap > 0 ? TruthFrame.Render(camera, index + 1 + rng.Next(neighbourGap)) : null);
    }
}

/// <summary>A rendered frame with its ground truth, in plain arrays.</summary>
public sealed record TruthFrame(byte[] Bgr, FrameTruth Truth)
{
    public int Width => Truth.Width;

    public int Height => Truth.Height;

    public static TruthFrame Render(SyntheticCamera camera, long index)
    {
        var truth = camera.CreateTruth();
        var bgr = new byte[camera.Spec.Width * camera.Spec.Height * 3];
        camera.Render(index, bgr, truth);
        return new TruthFrame(bgr, truth);
    }
}
