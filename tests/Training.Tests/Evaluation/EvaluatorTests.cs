using StreamMtl.Ingest.Synthetic;
using StreamMtl.Training.Evaluation;
using StreamMtl.Pipeline.Model;
using StreamMtl.Pipeline.Weights;

namespace StreamMtl.Training.Tests.Evaluation;

/// <summary>`streammtl eval` end to end on a tiny model and tiny baselines over real held-out synthetic frames.</summary>
public sealed class EvaluatorTests
{
    [Fact]
    public void The_report_has_every_task_metric_the_split_by_class_and_delta_m_against_the_baselines()
    {
        using var dir = new TempDirectory();
        var config = TinyModels.Config();
        string shared = SaveSharedModel(dir, config);
        var baselines = new Dictionary<string, string>();
        foreach (var task in config.SubTasks)
        {
            var single = config with { BaseTask = task, SubTasks = [] };
            using var model = new MultiTaskVit(single);
            baselines[task.Name()] = dir.File($"baseline-{task.Name()}.safetensors");
            ModelFile.Save(baselines[task.Name()], model, new ModelMetadata { Config = single, Classes = [.. SyntheticClasses.Names] });
        }

        var log = new List<string>();
        var report = Evaluator.Run(new EvalOptions
        {
            ModelPath = shared, Baselines = baselines, Sequences = 2, FramesPerSequence = 2, Width = 64, Height = 48,
        }, log.Add);

        Assert.Equal(4, report.Frames);
        foreach (string key in new[] { "segmentation.miou", "depth.abs_rel", "normals.mean_deg", "depth.abs_rel.floor", "normals.mean_deg.floor" })
        {
            Assert.True(report.Metrics.ContainsKey(key), $"missing {key}: {string.Join(", ", report.Metrics.Keys)}");
        }
        // Every pixel has a class, so the pooled error lies within the range of the per-class means.
        var angles = report.Metrics.Where(kv => kv.Key.StartsWith("normals.mean_deg.", StringComparison.Ordinal)).Select(kv => kv.Value).ToList();
        Assert.InRange(report.Metrics["normals.mean_deg"], angles.Min() - 1e-9, angles.Max() + 1e-9);
        Assert.Contains(log, line => line.StartsWith("shared model: mean angle by true class", StringComparison.Ordinal));
        Assert.True(report.BaselineMetrics.ContainsKey("depth.abs_rel") && report.BaselineMetrics.ContainsKey("normals.mean_deg"));
        var terms = Evaluator.DeltaMTerms.Where(t => report.BaselineMetrics.ContainsKey(t.Name))
            .Select(t => (report.Metrics[t.Name], report.BaselineMetrics[t.Name], t.LowerIsBetter)).ToList();
        Assert.Equal(3, terms.Count);
        Assert.Equal(DeltaM.Compute(terms), report.DeltaM!.Value, 12);
        Assert.InRange(report.AllTasksOverBase, 1.0, 3.0);
    }

    [Fact]
    public void A_bfloat16_evaluation_says_so_and_lands_near_the_float32_one()
    {
        using var dir = new TempDirectory();
        var config = TinyModels.Config();
        string shared = SaveSharedModel(dir, config);
        var options = new EvalOptions { ModelPath = shared, Sequences = 1, FramesPerSequence = 2, Width = 64, Height = 48 };
        var exact = Evaluator.Run(options);
        var log = new List<string>();
        var fast = Evaluator.Run(options with { BFloat16 = true }, log.Add);

        Assert.Contains(log, line => line.StartsWith("shared model (bfloat16 products):", StringComparison.Ordinal));
        Assert.False(StreamMtl.Pipeline.Model.Autocast.IsBFloat16, "the bfloat16 scope must end with the evaluation");
        Assert.Equal(exact.Metrics["normals.mean_deg"], fast.Metrics["normals.mean_deg"], 0.5);
        Assert.Equal(exact.Metrics["depth.abs_rel"], fast.Metrics["depth.abs_rel"], 0.02);
    }

    private static string SaveSharedModel(TempDirectory dir, ModelConfig config)
    {
        string path = dir.File("shared.safetensors");
        using var model = TinyModels.WithRandomDeltas(config);
        ModelFile.Save(path, model, new ModelMetadata { Config = config, Classes = [.. SyntheticClasses.Names] });
        return path;
    }
}
