using StreamMtl.Pipeline.Model;
using StreamMtl.Pipeline.Weights;
using StreamMtl.Training.Data;
using StreamMtl.Training.Evaluation;
using StreamMtl.Training.Surgery;

namespace StreamMtl.Training.Tests.Data;

/// <summary>The trainer and the evaluator on each data set layout: the class table from the data, masked labels, the same report.</summary>
[Collection(TinyTraining.Collection)]
public sealed class DatasetTrainingTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    private string ModelPath => _dir.File("model.safetensors");

    private Dataset Open(string kind) => Dataset.Open(kind, kind switch
    {
        "folder" => DatasetFixtures.Folder(_dir.File(kind), samples: 10),
        "nyud" => DatasetFixtures.Nyud(_dir.File(kind)),
        _ => DatasetFixtures.Pascal(_dir.File(kind)),
    });

    private TrainOptions Options(Dataset? data, TrainStage stage, VisionTask task, int steps)
    {
        var options = TinyTraining.Options(ModelPath, stage, task, steps) with { Data = data };
        // As `train --data` does: a new model has the sub-tasks the data can supervise.
        return data == null ? options : options with { Config = options.Config with { SubTasks = [.. options.Config.SubTasks.Where(data.Tasks.Contains)] } };
    }

    [Theory]
    [InlineData("folder")]
    [InlineData("nyud")]
    [InlineData("pascal")]
    public void Each_layout_trains_the_base_and_sub_tasks_and_evaluates_on_its_validation_split(string kind)
    {
        var data = Open(kind);
        var baseRecord = new Trainer(Options(data, TrainStage.Base, VisionTask.Segmentation, 6)).Run();
        Assert.StartsWith($"{data.Name}, train split (", baseRecord.Data, StringComparison.Ordinal);
        var subTasks = data.Tasks.Where(t => t != VisionTask.Segmentation).ToArray();
        new Trainer(Options(data, TrainStage.SubTask, subTasks[0], 4) with { Tasks = subTasks, InitPath = ModelPath }).Run();

        var metadata = ModelFile.ReadMetadata(ModelPath);
        Assert.Equal(data.Classes, metadata.Classes);
        Assert.Equal(data.Classes.Count, metadata.Config.Classes);
        Assert.Equal(subTasks, metadata.Config.SubTasks);

        var report = Evaluator.Run(new EvalOptions { ModelPath = ModelPath, Data = data, Width = 64, Height = 48 });
        Assert.Equal((data.Name, data.Samples(DataSplit.Validation).Count), (report.Data, report.Frames));
        Assert.InRange(report.Metrics["segmentation.miou"], 0, 1);
        Assert.InRange(report.Metrics["normals.mean_deg"], 0, 180);
        Assert.Equal(kind != "pascal", report.Metrics.ContainsKey("depth.abs_rel"));
        Assert.All(report.Metrics.Values, v => Assert.True(double.IsFinite(v)));
        Assert.Contains("\"data\": \"" + kind, report.ToJson(), StringComparison.Ordinal);
    }

    [Fact]
    public void A_model_of_another_class_table_gets_a_new_segmentation_head_and_keeps_the_rest()
    {
        new Trainer(Options(null, TrainStage.Base, VisionTask.Segmentation, 2)).Run();
        var data = Open("nyud");
        var log = new List<string>();
        new Trainer(Options(data, TrainStage.Base, VisionTask.Segmentation, 2) with { InitPath = ModelPath, OutputPath = _dir.File("nyud.safetensors") },
            log: log.Add).Run();
        Assert.Contains(log, l => l.Contains("segments 7 classes (floor, wall,", StringComparison.Ordinal)
            && l.Contains("has 40 classes (wall, floor,", StringComparison.Ordinal) && l.Contains("the segmentation head is re-created", StringComparison.Ordinal));
        Assert.Equal(NyudDataset.ClassNames, ModelFile.ReadMetadata(_dir.File("nyud.safetensors")).Classes);

        var (model, _) = ModelFile.Load(ModelPath);
        using (model)
        using (var recreated = SegmentationHead.Recreate(model, 40))
        {
            var before = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
            foreach (var (name, parameter) in recreated.named_parameters())
            {
                bool fresh = name.StartsWith("heads.segmentation.fc2.", StringComparison.Ordinal);
                Assert.True(fresh ? parameter.shape[0] != before[name].shape[0] : parameter.allclose(before[name], 0, 0), name);
            }
        }
    }

    [Fact]
    public void Stages_the_data_cannot_supervise_are_refused()
    {
        var pascal = Open("pascal");
        new Trainer(Options(pascal, TrainStage.Base, VisionTask.Segmentation, 1)).Run();
        var error = Assert.Throws<ArgumentException>(() => new Trainer(Options(pascal, TrainStage.Single, VisionTask.Depth, 1)).Run());
        Assert.Equal($"{pascal.Name} has no depth labels (it has segmentation, normals): single trains depth", error.Message);

        var nyud = Open("nyud");
        error = Assert.Throws<ArgumentException>(() => new Trainer(Options(nyud, TrainStage.SubTask, VisionTask.Normals, 1) with { InitPath = ModelPath }).Run());
        Assert.StartsWith($"{ModelPath} segments 21 classes (background, aeroplane,", error.Message, StringComparison.Ordinal);
        Assert.EndsWith("train the base on this data first (--stage base)", error.Message, StringComparison.Ordinal);

        var refused = Assert.Throws<DatasetException>(() => Evaluator.Run(new EvalOptions { ModelPath = ModelPath, Data = nyud, Width = 64, Height = 48 }));
        Assert.StartsWith($"{ModelPath} segments 21 classes", refused.Message, StringComparison.Ordinal);
    }

    public void Dispose() => _dir.Dispose();
}
