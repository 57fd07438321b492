using StreamMtl.Ingest.Synthetic;
using StreamMtl.Pipeline.Model;
using StreamMtl.Pipeline.Model.Policy;
using StreamMtl.Pipeline.Weights;
using StreamMtl.Training.Evaluation;

namespace StreamMtl.Training.Tests.Evaluation;

/// <summary>The lower-input-resolution baseline: the full model on downscaled frames, scored at the frame's size.</summary>
public sealed class LowerResolutionTests
{
    // 12 x 9 tokens of 16 pixels: room for smaller grids of the same aspect.
    private const int Width = 192;
    private const int Height = 144;

    private static string SaveModel(TempDirectory dir, PolicyConfig? policy = null)
    {
        var config = TinyModels.Config() with { Policy = policy };
        string path = dir.File(policy == null ? "tiny.safetensors" : "tiny-policy.safetensors");
        using var model = TinyModels.WithRandomDeltas(config);
        ModelFile.Save(path, model, new ModelMetadata { Config = config, Classes = [.. SyntheticClasses.Names] });
        return path;
    }

    [Fact]
    public void The_grid_is_the_costliest_that_fits_among_those_near_the_frames_aspect()
    {
        using var model = new MultiTaskVit(TinyModels.Config());
        double full = InputGrid.Dense(model, 9 * 12);
        foreach (double fraction in new[] { 0.9, 0.6, 0.4, 0.2 })
        {
            var grid = InputGrid.Largest(model, 9, 12, fraction)!;
            double cost = InputGrid.Dense(model, grid.Tokens);
            Assert.True(cost <= fraction * full, $"{grid} costs {cost / full:F3} of the frame's pass, over {fraction}");
            Assert.InRange((double)grid.Cols / grid.Rows / (12.0 / 9), 1 - InputGrid.AspectTolerance, 1 + InputGrid.AspectTolerance);
            // No grid of the frame's aspect (within the tolerance) with more tokens fits too.
            for (int rows = 1; rows <= 9; rows++)
            {
                for (int cols = 1; cols <= 12; cols++)
                {
                    bool nearAspect = Math.Abs((double)cols / rows / (12.0 / 9) - 1) <= InputGrid.AspectTolerance;
                    if (nearAspect && rows * cols > grid.Tokens)
                    {
                        Assert.True(InputGrid.Dense(model, rows * cols) > fraction * full, $"{rows}x{cols} fits {fraction} and is larger than {grid}");
                    }
                }
            }
        }
        Assert.Equal(new InputGrid(9, 12), InputGrid.Largest(model, 9, 12, 1));
        Assert.Equal(new InputGrid(6, 8), InputGrid.Largest(model, 9, 12, 0.5));
        Assert.Null(InputGrid.Largest(model, 9, 12, 0.001));
    }

    [Fact]
    public void At_the_frames_own_grid_it_is_the_full_model_and_below_it_spends_what_the_smaller_grid_costs()
    {
        using var dir = new TempDirectory();
        string path = SaveModel(dir);
        var options = new EvalOptions { ModelPath = path, Sequences = 1, FramesPerSequence = 3, Width = Width, Height = Height };

        var full = Evaluator.Run(options);
        var same = Evaluator.Run(options with { Resolution = 1 });
        var log = new List<string>();
        var lower = Evaluator.Run(options with { Resolution = 0.5 }, log.Add);

        Assert.Null(full.Resolution);
        Assert.Equal(new ResolutionReport(1, 9, 12, Width, Height, 1), same.Resolution);
        foreach (string metric in new[] { "segmentation.miou", "depth.abs_rel", "normals.mean_deg" })
        {
            Assert.Equal(full.Metrics[metric], same.Metrics[metric], 6);
        }
        var r = lower.Resolution!;
        Assert.Equal((6, 8, 128, 96), (r.Rows, r.Cols, r.InputWidth, r.InputHeight));
        using var model = new MultiTaskVit(TinyModels.Config());
        Assert.Equal((double)InputGrid.Dense(model, 48) / InputGrid.Dense(model, 108), r.ExecutedFraction, 9);
        Assert.True(r.ExecutedFraction <= 0.5);
        // The cost of all tasks over the base alone is a ratio at one grid.
        Assert.Equal(full.AllTasksOverBase, lower.AllTasksOverBase, 1);
        Assert.True(lower.BaseOnlyGflops < 0.55 * full.BaseOnlyGflops);
        // Scored at the frame's size against its truth: other figures than the full model's.
        Assert.NotEqual(full.Metrics["normals.mean_deg"], lower.Metrics["normals.mean_deg"]);
        Assert.Null(lower.Budget);
        Assert.Contains(log, line => line.StartsWith("input grid 6x8 (128x96 pixels) for 0.50 of the dense FLOPs", StringComparison.Ordinal));
    }

    [Fact]
    public void A_resolution_with_a_budget_or_one_no_grid_fits_is_refused()
    {
        using var dir = new TempDirectory();
        string path = SaveModel(dir);
        var options = new EvalOptions { ModelPath = path, Sequences = 1, FramesPerSequence = 1, Width = Width, Height = Height };

        var budget = Assert.Throws<ArgumentException>(() => Evaluator.Run(options with { Resolution = 0.5, Budget = 1 }));
        Assert.StartsWith("a lower input resolution runs the full model: it does not go with a budget", budget.Message, StringComparison.Ordinal);
        var tiny = Assert.Throws<ArgumentException>(() => Evaluator.Run(options with { Resolution = 0.001 }));
        Assert.StartsWith("no input grid's dense pass fits in 0.001 of the 192x144 one", tiny.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => Evaluator.Run(options with { Resolution = 1.5 }));
    }

    [Fact]
    public void The_budget_curve_adds_both_models_at_a_lower_resolution_below_target_one_spending_no_more_than_the_policy()
    {
        using var dir = new TempDirectory();
        string adaptive = SaveModel(dir, new PolicyConfig { Hidden = 8 });
        string reference = SaveModel(dir);
        var options = new EvalOptions { ModelPath = adaptive, Sequences = 1, FramesPerSequence = 2, Width = Width, Height = Height };

        var points = BudgetCurve.Run(options, [1, 0.6], reference, shuffles: 0);

        Assert.DoesNotContain(points, p => p.Target == 1 && p.Series is BudgetCurveSeries.Resolution or BudgetCurveSeries.ReferenceResolution);
        var policy = points.Single(p => p.Target == 0.6 && p.Series == BudgetCurveSeries.Adaptive);
        var own = points.Single(p => p.Target == 0.6 && p.Series == BudgetCurveSeries.Resolution);
        var other = points.Single(p => p.Target == 0.6 && p.Series == BudgetCurveSeries.ReferenceResolution);
        Assert.InRange(own.ExecutedFraction, 0.3, policy.ExecutedFraction);
        Assert.Equal(own.ExecutedFraction, other.ExecutedFraction, 9);
        Assert.NotEqual(own.NormalsMeanDeg, other.NormalsMeanDeg);
    }
}
