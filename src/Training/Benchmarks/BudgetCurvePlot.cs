using System.Globalization;
using OpenCvSharp;
using StreamMtl.Training.Evaluation;

namespace StreamMtl.Training.Benchmarks;

/// <summary>
/// Draws the accuracy-vs-compute curve as a PNG: three panels (mIoU, depth AbsRel, normals mean angle) against the executed
/// FLOP fraction, the adaptive policy in blue, the static baseline in red, a reference model's static curve in green, the
/// shuffled baseline in orange (the mean of its draws, a bar from their lowest to their highest value), the oracle in
/// purple, the lower-resolution baselines in dark cyan (same model) and olive (reference model), the full model's
/// value (the adaptive series at target 1) as a grey line and the 2% band around it (dashed).
/// </summary>
public static class BudgetCurvePlot
{
    private const int Panel = 380;
    private const int Height = 400;
    private const int Margin = 60;

    /// <summary>Pixels below the panels for the legend's second and third rows.</summary>
    private const int LegendRow = 32;

    private static readonly (BudgetCurveSeries Series, string Label, Scalar Colour)[] Series =
    [
        (BudgetCurveSeries.Adaptive, "adaptive (policy per frame)", Scalar.Blue),
        (BudgetCurveSeries.Static, "static (one block set, same model)", Scalar.Red),
        (BudgetCurveSeries.Reference, "reference model, static", Scalar.Green),
        (BudgetCurveSeries.Shuffled, "shuffled (same sets, random frames)", Scalar.Orange),
        (BudgetCurveSeries.Oracle, "oracle (truth picks the frames)", Scalar.Purple),
        (BudgetCurveSeries.Resolution, "lower input resolution, same model", Scalar.DarkCyan),
        (BudgetCurveSeries.ReferenceResolution, "reference model, lower resolution", Scalar.Olive),
    ];

    private static readonly (string Title, Func<BudgetCurvePoint, double> Value, bool LowerIsBetter)[] Panels =
    [
        ("segmentation mIoU", p => p.SegmentationMiou, false),
        ("depth AbsRel", p => p.DepthAbsRel, true),
        ("normals mean angle (deg)", p => p.NormalsMeanDeg, true),
    ];

    public static void Save(IReadOnlyList<BudgetCurvePoint> points, string path)
    {
        if (points.Count == 0)
        {
            throw new ArgumentException("nothing to plot", nameof(points));
        }
        using var image = new Mat(Height + LegendRow, Panel * Panels.Length, MatType.CV_8UC3, Scalar.White);
        var full = points.FirstOrDefault(p => p.Target >= 1 && p.Series == BudgetCurveSeries.Adaptive);
        for (int i = 0; i < Panels.Length; i++)
        {
            DrawPanel(image, i * Panel, Panels[i], points, full);
        }
        // The legend, three to a row below the panels.
        var legend = Legend(points);
        for (int i = 0; i < legend.Count; i++)
        {
            Cv2.PutText(image, legend[i].Label, new Point(Margin + i % 3 * 360, Height - 12 + i / 3 * 18), HersheyFonts.HersheySimplex, 0.45, legend[i].Colour);
        }
        if (!Cv2.ImWrite(path, image))
        {
            throw new IOException($"could not write {path}");
        }
    }

    /// <summary>The legend's entries: the series drawn, and the full model's band where a target-1 adaptive point draws it.</summary>
    internal static List<(string Label, Scalar Colour)> Legend(IReadOnlyList<BudgetCurvePoint> points)
    {
        var legend = Series.Where(s => points.Any(p => p.Series == s.Series)).Select(s => (s.Label, s.Colour)).ToList();
        if (points.Any(p => p.Target >= 1 && p.Series == BudgetCurveSeries.Adaptive))
        {
            legend.Add(("full model +-2%", Scalar.Gray));
        }
        return legend;
    }

    private static void DrawPanel(Mat image, int left, (string Title, Func<BudgetCurvePoint, double> Value, bool LowerIsBetter) panel,
        IReadOnlyList<BudgetCurvePoint> points, BudgetCurvePoint? full)
    {
        var values = points.Select(panel.Value).ToList();
        if (full != null)
        {
            values.Add(panel.Value(full) * 0.98);
            values.Add(panel.Value(full) * 1.02);
        }
        double yMin = values.Min();
        double yMax = values.Max();
        double pad = Math.Max((yMax - yMin) * 0.08, 1e-6);
        yMin -= pad;
        yMax += pad;
        const double xMin = 0.3;
        const double xMax = 1.02;
        int plotLeft = left + Margin;
        int plotRight = left + Panel - 15;
        int top = 30;
        int bottom = Height - Margin;
        Point At(double x, double y) => new(plotLeft + (int)((plotRight - plotLeft) * (x - xMin) / (xMax - xMin)),
            bottom - (int)((bottom - top) * (y - yMin) / (yMax - yMin)));

        var black = Scalar.Black;
        Cv2.Line(image, new Point(plotLeft, bottom), new Point(plotRight, bottom), black);
        Cv2.Line(image, new Point(plotLeft, bottom), new Point(plotLeft, top), black);
        Cv2.PutText(image, panel.Title + (panel.LowerIsBetter ? " (lower is better)" : ""), new Point(plotLeft, top - 10), HersheyFonts.HersheySimplex, 0.42, black);
        Cv2.PutText(image, "executed FLOPs / dense", new Point(plotLeft + 70, bottom + 35), HersheyFonts.HersheySimplex, 0.42, black);
        for (int i = 0; i <= 4; i++)
        {
            double xv = xMin + (1.0 - xMin) * i / 4;
            double yv = yMin + (yMax - yMin) * i / 4;
            Cv2.PutText(image, xv.ToString("F2", CultureInfo.InvariantCulture), At(xv, yMin) + new Point(-12, 16), HersheyFonts.HersheySimplex, 0.35, black);
            Cv2.PutText(image, yv.ToString(yMax < 1 ? "F3" : "F2", CultureInfo.InvariantCulture), new Point(left + 5, At(xMin, yv).Y + 4), HersheyFonts.HersheySimplex, 0.35, black);
        }
        if (full != null)
        {
            double f = panel.Value(full);
            Cv2.Line(image, At(xMin, f), At(xMax, f), Scalar.Gray);
            foreach (double band in new[] { f * 0.98, f * 1.02 })
            {
                for (double x = xMin; x < xMax; x += 0.04)
                {
                    Cv2.Line(image, At(x, band), At(Math.Min(x + 0.02, xMax), band), Scalar.LightGray);
                }
            }
        }
        // Adaptive last and thinnest, so where it equals the static baseline both stay visible.
        foreach (var (series, _, colour) in Series.Reverse())
        {
            var drawn = points.Where(p => p.Series == series).ToList();
            // The shuffled series: one point per target at the mean of its draws, a bar over their range.
            var line = series != BudgetCurveSeries.Shuffled ? drawn : [.. drawn.GroupBy(p => p.Target).Select(g =>
            {
                var values = g.Select(panel.Value).ToList();
                Cv2.Line(image, At(g.Average(p => p.ExecutedFraction), values.Min()), At(g.Average(p => p.ExecutedFraction), values.Max()), colour, 1);
                return g.First() with { ExecutedFraction = g.Average(p => p.ExecutedFraction), SegmentationMiou = g.Average(p => p.SegmentationMiou),
                    DepthAbsRel = g.Average(p => p.DepthAbsRel), NormalsMeanDeg = g.Average(p => p.NormalsMeanDeg) };
            })];
            line = [.. line.OrderBy(p => p.ExecutedFraction)];
            bool adaptive = series == BudgetCurveSeries.Adaptive;
            for (int i = 0; i < line.Count; i++)
            {
                var point = At(line[i].ExecutedFraction, panel.Value(line[i]));
                Cv2.Circle(image, point, adaptive ? 3 : 6, colour, -1);
                if (i > 0)
                {
                    Cv2.Line(image, At(line[i - 1].ExecutedFraction, panel.Value(line[i - 1])), point, colour, adaptive ? 1 : 3);
                }
            }
        }
    }
}
