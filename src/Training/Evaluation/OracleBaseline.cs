using StreamMtl.Pipeline.Model;

namespace StreamMtl.Training.Evaluation;

/// <summary>
/// The upper bound of per-frame adaptation with an adaptive run's own unit sets: where its frames ran two sets, every frame is
/// evaluated under both, and the ground truth gives the costlier set to the frames it helps most, as many frames as the
/// policy gave it. The FLOPs are the adaptive run's; no policy that sees only the frame can do better with these two sets
/// at these counts. How far it lies above the shuffled baseline (<see cref="BudgetedPasses.Shuffled"/>) is the room
/// adaptation has; where the adaptive run lies between them is what the policy took of it.
/// </summary>
public static class OracleBaseline
{
    /// <summary>
    /// The oracle's report at <paramref name="run"/>'s target for <paramref name="adaptive"/>'s frames, or null when they ran
    /// other than exactly two unit sets.
    /// </summary>
    public static EvalReport? Run(EvalOptions run, BudgetReport adaptive)
    {
        var sets = adaptive.FrameUnits.GroupBy(Key).Select(g => g.First()).ToList();
        if (sets.Count != 2)
        {
            return null;
        }
        // The set with more units is the one the oracle hands out (on a tie, the later one in evaluation order).
        var (cheap, costly) = sets[0].Count(u => u) > sets[1].Count(u => u) ? (sets[1], sets[0]) : (sets[0], sets[1]);
        int frames = adaptive.FrameUnits.Count;
        int costlyFrames = adaptive.FrameUnits.Count(s => Key(s) == Key(costly));
        var cheapErrors = FrameErrors(run, cheap, frames);
        var costlyErrors = FrameErrors(run, costly, frames);
        var gains = Combine(cheapErrors, costlyErrors);
        var chosen = Enumerable.Range(0, frames).OrderByDescending(f => gains[f]).ThenBy(f => f).Take(costlyFrames).ToHashSet();
        return Evaluator.Run(run with { FramePlans = [.. Enumerable.Range(0, frames).Select(f => chosen.Contains(f) ? costly : cheap)] });
    }

    /// <summary>
    /// Per frame, how much the costlier set lowers the frame's error: the sum over tasks of (error under the cheap set -
    /// error under the costly one) / the task's mean error under the cheap set, so each task weighs the same.
    /// </summary>
    internal static double[] Combine(IReadOnlyList<double[]> cheap, IReadOnlyList<double[]> costly)
    {
        int tasks = cheap[0].Length;
        var scale = Enumerable.Range(0, tasks).Select(t => Math.Max(cheap.Average(e => e[t]), 1e-12)).ToArray();
        return [.. cheap.Select((e, f) => Enumerable.Range(0, tasks).Sum(t => (e[t] - costly[f][t]) / scale[t]))];
    }

    /// <summary>Each frame's errors with <paramref name="set"/> on every frame: 1 - pixel accuracy, depth AbsRel, normals mean angle.</summary>
    internal static List<double[]> FrameErrors(EvalOptions run, bool[] set, int frames)
    {
        var errors = new double[frames][];
        Evaluator.Run(run with
        {
            FramePlans = [.. Enumerable.Repeat(set, frames)],
            Inspect = (i, frame, predictions) => errors[i] = Errors(frame, predictions),
        });
        return [.. errors];
    }

    /// <summary>A frame's errors: 1 - pixel accuracy, depth AbsRel, normals mean angle (the tasks predicted; 0 for a task without pixels).</summary>
    internal static double[] Errors(TruthFrame frame, Predictions predictions)
    {
        var errors = new List<double>();
        if (predictions.Labels != null)
        {
            var seg = new SegmentationMetrics(256);
            seg.Add(predictions.Labels, frame.Truth.Labels);
            errors.Add(1 - seg.PixelAccuracy);
        }
        if (predictions.Depth != null)
        {
            var depth = new DepthMetrics();
            depth.Add(predictions.Depth, frame.Truth.Depth, frame.Truth.Labels);
            errors.Add(depth.AbsRel);
        }
        if (predictions.Normals != null)
        {
            var normals = new NormalsMetrics();
            normals.Add(predictions.Normals, frame.Truth.Normals, frame.Truth.Labels);
            errors.Add(normals.MeanDeg);
        }
        // A frame without a pixel of a task (NaN) neither gains nor loses on it.
        return [.. errors.Select(e => double.IsFinite(e) ? e : 0)];
    }

    private static string Key(bool[] set) => string.Concat(set.Select(r => r ? '1' : '0'));
}
