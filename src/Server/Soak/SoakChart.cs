using System.Globalization;
using OpenCvSharp;

namespace StreamMtl.Server.Soak;

/// <summary>
/// Draws a service soak as a PNG: three panels over time (RSS in MiB, open file descriptors, threads), each with its figures
/// in the title, a dashed line where the warm-up ends and a dotted line at the RSS growth bar.
/// </summary>
public static class SoakChart
{
    private const int Width = 1000;
    private const int PanelHeight = 260;
    private const int Left = 80;
    private const int Right = 30;
    private const int Top = 34;
    private const int Bottom = 36;
    private const HersheyFonts Font = HersheyFonts.HersheySimplex;

    public static void Save(ServiceSoakResult result, string path)
    {
        var samples = result.Samples;
        if (samples.Count == 0)
        {
            throw new ArgumentException("nothing to plot", nameof(result));
        }
        bool minutes = result.Duration >= TimeSpan.FromMinutes(3);
        double[] x = [.. samples.Select(s => minutes ? s.Elapsed.TotalMinutes : s.Elapsed.TotalSeconds)];
        double xMax = Math.Max(x[^1], 1e-3);
        double warmUp = minutes ? result.WarmUp.TotalMinutes : result.WarmUp.TotalSeconds;
        var (fdMin, fdMax) = result.FileDescriptors;
        var (threadMin, threadMax) = result.Threads;
        var panels = new (string Title, double[] Y, Scalar Colour, double? Bar)[]
        {
            ($"RSS MiB: after warm-up {result.Baseline.RssMiB:F1}, end {result.End.RssMiB:F1}, growth {result.RssGrowthPercent:+0.0;-0.0}% (bar < {ServiceSoakResult.MaxRssGrowthPercent:0}%)",
                [.. samples.Select(s => s.RssMiB)], new Scalar(200, 60, 20), result.Baseline.RssMiB * (1 + ServiceSoakResult.MaxRssGrowthPercent / 100)),
            ($"open file descriptors: {fdMin}..{fdMax} after warm-up, rise {result.FileDescriptorRise:+0;-0;0} (tolerance {ServiceSoakResult.FileDescriptorTolerance})",
                [.. samples.Select(s => (double)s.FileDescriptors)], new Scalar(30, 130, 30), null),
            ($"threads: {threadMin}..{threadMax} after warm-up, rise {result.ThreadRise:+0;-0;0} (tolerance {ServiceSoakResult.ThreadTolerance})",
                [.. samples.Select(s => (double)s.Threads)], new Scalar(20, 20, 190), null),
        };
        using var image = new Mat(PanelHeight * panels.Length, Width, MatType.CV_8UC3, Scalar.White);
        for (int p = 0; p < panels.Length; p++)
        {
            var (title, y, colour, bar) = panels[p];
            var area = new Rect(Left, p * PanelHeight + Top, Width - Left - Right, PanelHeight - Top - Bottom);
            DrawPanel(image, area, title, x, xMax, y, colour, bar, warmUp, minutes ? "minutes" : "seconds");
        }
        ServiceSoakResult.CreateDirectoryOf(path);
        if (!Cv2.ImWrite(path, image))
        {
            throw new IOException($"could not write {path}");
        }
    }

    private static void DrawPanel(Mat image, Rect area, string title, double[] x, double xMax, double[] y, Scalar colour, double? bar, double warmUp, string unit)
    {
        double yLow = Math.Min(y.Min(), bar ?? double.MaxValue);
        double yHigh = Math.Max(y.Max(), bar ?? double.MinValue);
        double pad = Math.Max((yHigh - yLow) * 0.1, Math.Max(Math.Abs(yHigh) * 0.01, 1));
        yLow = Math.Max(0, yLow - pad);
        yHigh += pad;
        Point At(double xv, double yv) => new(area.Left + (int)Math.Round(area.Width * xv / xMax), area.Bottom - (int)Math.Round(area.Height * (yv - yLow) / (yHigh - yLow)));

        var black = Scalar.Black;
        var grey = new Scalar(200, 200, 200);
        Cv2.PutText(image, title, new Point(area.Left, area.Top - 12), Font, 0.5, black, 1, LineTypes.AntiAlias);
        for (int i = 0; i <= 4; i++)
        {
            double yv = yLow + (yHigh - yLow) * i / 4;
            var row = At(0, yv);
            Cv2.Line(image, row, new Point(area.Right, row.Y), grey);
            Cv2.PutText(image, yv.ToString(yHigh - yLow < 10 ? "F1" : "F0", CultureInfo.InvariantCulture), new Point(8, row.Y + 4), Font, 0.4, black, 1, LineTypes.AntiAlias);
            double xv = xMax * i / 4;
            var column = At(xv, yLow);
            Cv2.PutText(image, xv.ToString("0.#", CultureInfo.InvariantCulture), new Point(column.X - 10, area.Bottom + 16), Font, 0.4, black, 1, LineTypes.AntiAlias);
        }
        Cv2.PutText(image, unit, new Point(area.Right - 60, area.Bottom + 30), Font, 0.4, black, 1, LineTypes.AntiAlias);
        Cv2.Rectangle(image, area, black);
        if (warmUp < xMax)
        {
            Dashed(image, At(warmUp, yLow), At(warmUp, yHigh), new Scalar(120, 120, 120), 6);
            Cv2.PutText(image, "warm-up", At(warmUp, yHigh) + new Point(4, 14), Font, 0.4, new Scalar(120, 120, 120), 1, LineTypes.AntiAlias);
        }
        if (bar is { } level)
        {
            Dashed(image, At(0, level), At(xMax, level), new Scalar(0, 0, 220), 2);
        }
        for (int i = 1; i < x.Length; i++)
        {
            Cv2.Line(image, At(x[i - 1], y[i - 1]), At(x[i], y[i]), colour, 2, LineTypes.AntiAlias);
        }
        if (x.Length == 1)
        {
            Cv2.Circle(image, At(x[0], y[0]), 3, colour, -1);
        }
    }

    /// <summary>A straight line drawn as dashes of <paramref name="dash"/> pixels.</summary>
    private static void Dashed(Mat image, Point from, Point to, Scalar colour, int dash)
    {
        double length = Math.Sqrt(Math.Pow(to.X - from.X, 2) + Math.Pow(to.Y - from.Y, 2));
        for (double d = 0; d < length; d += 2 * dash)
        {
            double a = d / length;
            double b = Math.Min(d + dash, length) / length;
            Cv2.Line(image, new Point(from.X + (to.X - from.X) * a, from.Y + (to.Y - from.Y) * a), new Point(from.X + (to.X - from.X) * b, from.Y + (to.Y - from.Y) * b), colour);
        }
    }
}
