using System.Globalization;
using OpenCvSharp;

namespace StreamMtl.Training.Benchmarks;

/// <summary>Draws a sweep as a PNG: FLOPs saved (dense / executed, x) against segmentation agreement with dense (y), one labelled point per setting.</summary>
public static class ReuseSweepPlot
{
    private const int Width = 720;
    private const int Height = 480;
    private const int Margin = 70;

    public static void Save(IReadOnlyList<ReuseBenchmarkRow> rows, string path)
    {
        if (rows.Count == 0)
        {
            throw new ArgumentException("nothing to plot", nameof(rows));
        }
        double xMax = Math.Ceiling(rows.Max(r => r.FlopsRatio) + 1);
        double yMin = Math.Floor(rows.Min(r => r.SegmentationAgreement) * 100 - 1);
        using var image = new Mat(Height, Width, MatType.CV_8UC3, Scalar.White);
        var black = Scalar.Black;
        Cv2.Line(image, new Point(Margin, Height - Margin), new Point(Width - 20, Height - Margin), black);
        Cv2.Line(image, new Point(Margin, Height - Margin), new Point(Margin, 20), black);
        Cv2.PutText(image, "FLOPs dense / reuse (x)", new Point(Width / 2 - 100, Height - 20), HersheyFonts.HersheySimplex, 0.5, black);
        Cv2.PutText(image, "seg agreement %", new Point(5, 15), HersheyFonts.HersheySimplex, 0.5, black);
        for (int i = 0; i <= 4; i++)
        {
            double xv = xMax * i / 4;
            double yv = yMin + (100 - yMin) * i / 4;
            Cv2.PutText(image, xv.ToString("F1", CultureInfo.InvariantCulture), new Point(X(xv, xMax) - 10, Height - Margin + 20), HersheyFonts.HersheySimplex, 0.4, black);
            Cv2.PutText(image, yv.ToString("F1", CultureInfo.InvariantCulture), new Point(15, Y(yv, yMin) + 4), HersheyFonts.HersheySimplex, 0.4, black);
        }
        foreach (var r in rows)
        {
            var point = new Point(X(r.FlopsRatio, xMax), Y(r.SegmentationAgreement * 100, yMin));
            Cv2.Circle(image, point, 5, Scalar.Blue, -1);
            Cv2.PutText(image, $"t={r.Threshold:G3} r={r.AttentionRefresh:G2}", new Point(point.X + 7, point.Y - 7), HersheyFonts.HersheySimplex, 0.4, Scalar.DarkRed);
        }
        if (!Cv2.ImWrite(path, image))
        {
            throw new IOException($"could not write {path}");
        }
    }

    private static int X(double value, double max) => Margin + (int)((Width - Margin - 20) * value / max);

    private static int Y(double percent, double min) => Height - Margin - (int)((Height - Margin - 20) * (percent - min) / (100 - min));
}
