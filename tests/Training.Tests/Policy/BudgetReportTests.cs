using StreamMtl.Pipeline.Model;
using StreamMtl.Pipeline.Model.Policy;
using StreamMtl.Training.Benchmarks;
using StreamMtl.Training.Evaluation;

namespace StreamMtl.Training.Tests.Policy;

/// <summary>The budget section of the eval report and the accuracy-vs-compute plot, on made-up decisions.</summary>
public sealed class BudgetReportTests
{
    private static readonly IReadOnlyList<ComputeUnit> Units = ComputeUnits.Of(TinyModels.Config(blocks: 2, split: 1));

    [Fact]
    public void The_report_gives_quantiles_a_histogram_unit_rates_and_the_easiest_and_hardest_frame()
    {
        // Units: trunk.1, trunk.2, depth.2, normals.2.
        FrameDecision Frame(double fraction, bool[] units, float score) => new(fraction, units, [score, score, score, score]);
        var decisions = new[]
        {
            Frame(0.50, [true, false, true, true], -1f),
            Frame(0.52, [true, true, false, true], 0f),
            Frame(0.54, [true, false, true, true], 2f),
            Frame(0.56, [true, false, true, true], 1f),
            Frame(0.61, [true, true, true, true], 0.5f),
        };
        var report = BudgetReport.From(0.6, isStatic: false, Units, decisions, framesPerSequence: 2);

        Assert.Equal(0.546, report.MeanFraction, 12);
        Assert.Equal(0.54, report.P50, 12);
        Assert.Equal(0.508, report.P10, 12);
        Assert.Equal(0.50, report.MinFraction);
        Assert.Equal(0.61, report.MaxFraction);
        Assert.Equal(1, report.FramesOverTarget);
        Assert.Equal(Math.Abs(0.546 - 0.6) / 0.6, report.RelativeError, 12);
        Assert.Equal(5, report.Histogram.Sum());
        Assert.Equal([3, 1, 1], report.Histogram[10..13]);
        Assert.Equal(0.4, report.UnitRates["trunk.2"], 12);
        Assert.Equal(3, report.DistinctPlans);
        Assert.Equal((0, 0, 0), (report.Easiest!.Frame, report.Easiest.Sequence, report.Easiest.FrameInSequence));
        Assert.Equal(["trunk.2"], report.Easiest.Skipped);
        Assert.Equal((2, 1, 0), (report.Hardest!.Frame, report.Hardest.Sequence, report.Hardest.FrameInSequence));
    }

    [Fact]
    public void The_plot_is_written_with_three_panels()
    {
        using var dir = new TempDirectory();
        string path = dir.File("curve.png");
        var points = new List<BudgetCurvePoint>();
        foreach (var series in Enum.GetValues<BudgetCurveSeries>())
        {
            foreach (double target in BudgetCurve.DefaultTargets)
            {
                points.Add(new BudgetCurvePoint(series, target, target - 0.02, 0.8 * target, 0.08 / target, 5 / target, 1));
            }
        }
        BudgetCurvePlot.Save(points, path);
        using var image = OpenCvSharp.Cv2.ImRead(path);
        // Seven series and the band: the legend's second and third rows lie below the 400-pixel panels.
        Assert.Equal((3 * 380, 432), (image.Width, image.Height));
        foreach (var (top, row) in new[] { (400, "second"), (418, "third") })
        {
            using var legendRow = new OpenCvSharp.Mat(image, new OpenCvSharp.Rect(0, top, image.Width, 14));
            using var gray = legendRow.CvtColor(OpenCvSharp.ColorConversionCodes.BGR2GRAY);
            Assert.True(OpenCvSharp.Cv2.CountNonZero(gray.LessThan(200)) > 0, $"the legend's {row} row is empty");
        }
    }

    [Fact]
    public void The_legend_names_the_full_models_band_only_where_it_is_drawn()
    {
        var below = new BudgetCurvePoint(BudgetCurveSeries.Adaptive, 0.6, 0.55, 0.7, 0.09, 6.6, 1);
        var full = below with { Target = 1, ExecutedFraction = 1 };

        Assert.DoesNotContain(BudgetCurvePlot.Legend([below]), e => e.Label.StartsWith("full model", StringComparison.Ordinal));
        Assert.Contains(BudgetCurvePlot.Legend([below, full]), e => e.Label.StartsWith("full model", StringComparison.Ordinal));
    }
}
