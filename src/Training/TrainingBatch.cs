using StreamMtl.Pipeline.Runners;
using StreamMtl.Pipeline.Model;
using static TorchSharp.torch;

namespace StreamMtl.Training;

/// <summary>
/// A batch of token-aligned crops with ground truth. All crops of a batch share one grid offset so the
/// model sees the position embeddings those patches have in the full frame.
/// </summary>
public sealed class TrainingBatch : IDisposable
{
    private TrainingBatch(Tensor images, Tensor labels, Tensor depth, Tensor normals, (int Row, int Col) offset, long labelledPixels)
    {
        LabelledPixels = labelledPixels;
        Images = images;
        Labels = labels;
        Depth = depth;
        Normals = normals;
        GridOffset = offset;
    }

    /// <summary>Normalised RGB [B, 3, h, w].</summary>
    public Tensor Images { get; }

    /// <summary>Class ids [B, h, w] (int64; 255 = ignore).</summary>
    public Tensor Labels { get; }

    /// <summary>Metric depth [B, 1, h, w].</summary>
    public Tensor Depth { get; }

    /// <summary>Camera-space unit normals [B, 3, h, w].</summary>
    public Tensor Normals { get; }

    public (int Row, int Col) GridOffset { get; }

    /// <summary>Pixels with a class label (not ignored). A data set's crop may have none: its mean cross-entropy would be 0/0.</summary>
    public long LabelledPixels { get; }

    /// <summary>
    /// Samples <paramref name="batch"/> frames, crops <paramref name="rows"/> x <paramref name="cols"/> tokens, flips
    /// half of them. With <paramref name="pairs"/> the batch is batch/2 neighbour pairs: samples 2i and 2i+1 are a
    /// frame and its neighbour from the pool, with the same crop and flip. A <paramref name="jpegMinQuality"/> above 0
    /// re-encodes crops as JPEG (<see cref="CameraDegradation"/>), each on its own, so the two frames of a pair differ in
    /// their artefacts too. With <paramref name="twins"/> (which implies <paramref name="pairs"/>) the second sample of a
    /// pair is the same frame as the first, so the pair differs only in its degradation.
    /// </summary>
    public static TrainingBatch Sample(FramePool pool, Random rng, int batch, int rows, int cols, ModelConfig config, bool pairs = false,
        int jpegMinQuality = 0, bool twins = false)
    {
        pairs |= twins;
        if (pairs)
        {
            EnsurePairs(batch);
        }
        (TruthFrame Frame, TruthFrame? Neighbour) Draw()
        {
            if (!pairs)
            {
                return (pool.Sample(rng), null);
            }
            if (twins)
            {
                var frame = pool.Sample(rng);
                return (frame, frame);
            }
            return pool.SamplePair(rng);
        }
        int p = config.Patch;
        var (first, firstNeighbour) = Draw();
        int gridRows = first.Height / p;
        int gridCols = first.Width / p;
        rows = Math.Min(rows, gridRows);
        cols = Math.Min(cols, gridCols);
        int row = rng.Next(gridRows - rows + 1);
        int col = rng.Next(gridCols - cols + 1);
        int h = rows * p;
        int w = cols * p;
        int y0 = row * p;
        int x0 = col * p;

        var bgr = new byte[batch * h * w * 3];
        var labels = new long[batch * h * w];
        var depth = new float[batch * h * w];
        var normals = new float[batch * 3 * h * w];
        TruthFrame? neighbour = firstNeighbour;
        bool flip = false;
        long labelled = 0;
        for (int b = 0; b < batch; b++)
        {
            TruthFrame frame;
            if (pairs && b % 2 == 1)
            {
                frame = neighbour!;
            }
            else
            {
                (frame, neighbour) = b == 0 ? (first, firstNeighbour) : Draw();
                flip = rng.Next(2) == 1;
            }
            var truth = frame.Truth;
            for (int y = 0; y < h; y++)
            {
                int srcRow = (y0 + y) * frame.Width;
                for (int x = 0; x < w; x++)
                {
                    int src = srcRow + x0 + (flip ? w - 1 - x : x);
                    int dst = (b * h + y) * w + x;
                    bgr[dst * 3] = frame.Bgr[src * 3];
                    bgr[dst * 3 + 1] = frame.Bgr[src * 3 + 1];
                    bgr[dst * 3 + 2] = frame.Bgr[src * 3 + 2];
                    labels[dst] = truth.Labels[src];
                    labelled += truth.Labels[src] != Ingest.Frames.FrameTruth.Ignore ? 1 : 0;
                    depth[dst] = truth.Depth[src];
                    int plane = h * w;
                    int n = b * 3 * plane + y * w + x;
                    normals[n] = flip ? -truth.Normals[src * 3] : truth.Normals[src * 3];
                    normals[n + plane] = truth.Normals[src * 3 + 1];
                    normals[n + 2 * plane] = truth.Normals[src * 3 + 2];
                }
            }
            CameraDegradation.Apply(bgr.AsSpan(b * h * w * 3, h * w * 3), h, w, jpegMinQuality, rng);
        }
        using var bytes = tensor(bgr, [batch, h, w, 3]);
        var images = ImageTensors.Normalise(bytes, config);
        return new TrainingBatch(images, tensor(labels, [batch, h, w]), tensor(depth, [batch, 1, h, w]),
            tensor(normals, [batch, 3, h, w]), (row, col), labelled);
    }

    /// <summary>The size of a full-frame step's batch: a quarter of <paramref name="batch"/>, in whole pairs when pairing.</summary>
    public static int FullFrameBatch(int batch, bool pairs) => pairs ? Math.Max(2, batch / 8 * 2) : Math.Max(1, batch / 4);

    /// <summary>Whether <paramref name="batch"/> can hold neighbour pairs (even, at least 2).</summary>
    public static bool HoldsPairs(int batch) => batch >= 2 && batch % 2 == 0;

    /// <summary>Throws unless <paramref name="batch"/> can hold neighbour pairs (see <see cref="HoldsPairs"/>).</summary>
    public static void EnsurePairs(int batch)
    {
        if (!HoldsPairs(batch))
        {
            throw new ArgumentException($"a batch of neighbour pairs (temporal-consistency penalty) needs an even size >= 2; got {batch}", nameof(batch));
        }
    }

    /// <summary>The same batch on another device (the copies belong to the caller's dispose scope).</summary>
    public TrainingBatch To(Device device) => device.type == TorchSharp.DeviceType.CPU
        ? this
        : new TrainingBatch(Images.to(device), Labels.to(device), Depth.to(device), Normals.to(device), GridOffset, LabelledPixels);

    public void Dispose()
    {
        Images.Dispose();
        Labels.Dispose();
        Depth.Dispose();
        Normals.Dispose();
    }
}
