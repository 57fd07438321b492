using StreamMtl.Pipeline.Model;
using StreamMtl.Pipeline.Model.Policy;
using static TorchSharp.torch;

namespace StreamMtl.Training.Evaluation;

/// <summary>
/// The lower-input-resolution baseline (<see cref="EvalOptions.Resolution"/>): the full model on the frame downscaled to a
/// smaller token grid, its outputs shown at the frame's size. What an operator without a compute policy would do to spend
/// less per frame, and the second non-adaptive baseline issue 25 names beside a fixed subset of blocks.
/// </summary>
public sealed record InputGrid(int Rows, int Cols)
{
    /// <summary>How far a grid's aspect ratio may stray from the frame's (relative): a finer ladder of costs than exact ratios give.</summary>
    public const double AspectTolerance = 0.1;

    public long Tokens => (long)Rows * Cols;

    /// <summary>The token grid of the frames <paramref name="options"/> evaluates, at patch size <paramref name="patch"/>.</summary>
    public static InputGrid Frame(EvalOptions options, int patch) => new(options.Height / patch, options.Width / patch);

    /// <summary>
    /// The grid that costs most while its dense pass (every task, every block) stays within <paramref name="fraction"/> of
    /// the dense pass on the frame's own grid (<paramref name="fullRows"/> x <paramref name="fullCols"/>), among the grids no
    /// larger than the frame's whose aspect is within <see cref="AspectTolerance"/> of it; null when none fits.
    /// </summary>
    public static InputGrid? Largest(MultiTaskVit model, int fullRows, int fullCols, double fraction)
    {
        Budget.Validate(fraction, nameof(fraction));
        double full = Dense(model, (long)fullRows * fullCols);
        double aspect = (double)fullCols / fullRows;
        InputGrid? best = null;
        double bestCost = 0;
        for (int rows = 1; rows <= fullRows; rows++)
        {
            for (int cols = 1; cols <= fullCols; cols++)
            {
                if (Math.Abs((double)cols / rows / aspect - 1) > AspectTolerance)
                {
                    continue;
                }
                double cost = Dense(model, (long)rows * cols);
                // Ties (the same token count) go to the grid nearer the frame's aspect.
                if (cost <= fraction * full && (cost > bestCost || (cost == bestCost && best is { } b
                    && Math.Abs((double)cols / rows - aspect) < Math.Abs((double)b.Cols / b.Rows - aspect))))
                {
                    best = new InputGrid(rows, cols);
                    bestCost = cost;
                }
            }
        }
        return best;
    }

    /// <summary>FLOPs of the dense pass over <paramref name="tokens"/> tokens, every task (no policy).</summary>
    public static long Dense(MultiTaskVit model, long tokens) => model.UnitCosts(tokens, TaskSet.All, fused: true, withPolicy: false).Dense;

    /// <summary>The model input [1, 3, H, W] downscaled to this grid's pixels (bilinear with antialiasing, as an area filter would).</summary>
    public Tensor Shrink(Tensor input, int patch) =>
        nn.functional.interpolate(input, [Rows * patch, Cols * patch], mode: InterpolationMode.Bilinear, align_corners: false, antialias: true);

    public override string ToString() => $"{Rows}x{Cols}";
}
