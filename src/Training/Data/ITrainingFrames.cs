namespace StreamMtl.Training.Data;

/// <summary>
/// Where a <see cref="FramePool"/> draws its training frames from: the synthetic camera (<see cref="SyntheticDataset"/>, the
/// default) or the training split of a data set on disk (<see cref="DatasetFrames"/>). A draw is a pure function of the
/// generator's state, so a seeded pool (and a resumed run's rebuilt pool) holds the same frames every time.
/// </summary>
public interface ITrainingFrames
{
    /// <summary>What the frames are, for the training record (e.g. "nyud:/data/NYUD_MT train split, 795 samples at 320x240").</summary>
    string Description { get; }

    /// <summary>Whether <see cref="Draw"/> can return a neighbouring frame of the same sequence (the temporal penalty's pairs).</summary>
    bool HasNeighbours { get; }

    /// <summary>
    /// A frame drawn with <paramref name="rng"/>, and with <paramref name="neighbourGap"/> &gt; 0 a neighbour 1..gap frames
    /// later in its sequence (null when the gap is 0).
    /// </summary>
    (TruthFrame Frame, TruthFrame? Neighbour) Draw(Random rng, int neighbourGap);
}
