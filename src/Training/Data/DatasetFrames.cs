namespace StreamMtl.Training.Data;

/// <summary>
/// One split of a data set on disk at a fixed frame size: the frames a <see cref="FramePool"/> draws from (training) and
/// the list the evaluator scores (validation). Frames load from disk when drawn or indexed; nothing is kept.
/// </summary>
public sealed class DatasetFrames : ITrainingFrames, IReadOnlyList<TruthFrame>
{
    private readonly IReadOnlyList<SampleFiles> _samples;

    public DatasetFrames(Dataset dataset, DataSplit split, int width, int height)
    {
        Dataset = dataset;
        Split = split;
        Width = width;
        Height = height;
        _samples = dataset.Samples(split);
    }

    public Dataset Dataset { get; }

    public DataSplit Split { get; }

    public int Width { get; }

    public int Height { get; }

    public int Count => _samples.Count;

    public TruthFrame this[int index] => Dataset.Load(_samples[index], Width, Height);

    public string Description => $"{Dataset.Name}, {(Split == DataSplit.Train ? "train" : "validation")} split ({Count} samples) at {Width}x{Height}, {Dataset.Labels}";

    /// <summary>Samples are single images, not sequences.</summary>
    public bool HasNeighbours => false;

    public (TruthFrame Frame, TruthFrame? Neighbour) Draw(Random rng, int neighbourGap) => neighbourGap > 0
        ? throw new InvalidOperationException($"{Description} has no neighbouring frames")
        : (this[rng.Next(Count)], null);

    public IEnumerator<TruthFrame> GetEnumerator()
    {
        for (int i = 0; i < Count; i++)
        {
            yield return this[i];
        }
    }

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}
