using StreamMtl.Pipeline.Model;
using StreamMtl.Training;
using StreamMtl.Pipeline.Weights;

namespace StreamMtl.Training.Tests;

[Collection(TinyTraining.Collection)]
public sealed class TrainerTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"streammtl-train-{Guid.NewGuid():N}");

    private TrainOptions Options(TrainStage stage, VisionTask task, int steps) =>
        TinyTraining.Options(Path.Combine(_dir, "model.safetensors"), stage, task, steps);

    [Fact]
    public void ShortBaseRunLowersTheLossAndWritesALoadableModel()
    {
        var losses = new List<double>();
        var trainer = new Trainer(Options(TrainStage.Base, VisionTask.Segmentation, 150), p => losses.Add(p.Loss));
        var record = trainer.Run();
        Assert.Equal(150, record.Steps);
        Assert.True(losses[^1] < losses[0] * 0.9, $"loss went from {losses[0]:F3} to {losses[^1]:F3}");
        var (model, metadata) = ModelFile.Load(Path.Combine(_dir, "model.safetensors"));
        using (model)
        {
            Assert.Equal("base", Assert.Single(metadata.Training).Stage);
            Assert.Equal(7, metadata.Classes.Length);
        }
    }

    [Fact]
    public void SubTaskStageTrainsOnlyThatTasksParameters()
    {
        new Trainer(Options(TrainStage.Base, VisionTask.Segmentation, 4)).Run();
        string path = Path.Combine(_dir, "model.safetensors");
        var (before, _) = ModelFile.Load(path);
        var initial = before.named_parameters().ToDictionary(p => p.name, p => p.parameter.clone());
        before.Dispose();

        new Trainer(Options(TrainStage.SubTask, VisionTask.Depth, 6) with { InitPath = path }).Run();
        var (after, metadata) = ModelFile.Load(path);
        using (after)
        {
            foreach (var (name, p) in after.named_parameters())
            {
                bool changed = !p.allclose(initial[name]);
                bool depthOwned = name.StartsWith("tasks.depth.", StringComparison.Ordinal) || name.StartsWith("heads.depth.", StringComparison.Ordinal);
                Assert.True(!changed || depthOwned, $"{name} changed although the sub-task stage must freeze it");
                if (name.EndsWith("lora_B", StringComparison.Ordinal) && name.StartsWith("tasks.depth.", StringComparison.Ordinal))
                {
                    Assert.True(changed, $"{name} did not train");
                }
            }
            Assert.Equal(["base", "subtask"], metadata.Training.Select(t => t.Stage));
        }
    }

    [Fact]
    public void AHeadsOnlyRunAddingARefinementTrainsTheHeadsAndLeavesEverythingElse()
    {
        new Trainer(Options(TrainStage.Base, VisionTask.Segmentation, 4)).Run();
        string path = Path.Combine(_dir, "model.safetensors");
        var (before, _) = ModelFile.Load(path);
        var initial = before.named_parameters().ToDictionary(p => p.name, p => p.parameter.clone());
        before.Dispose();

        var options = Options(TrainStage.Base, VisionTask.Segmentation, 6) with
        {
            InitPath = path,
            HeadsOnly = true,
            AuxiliaryWeight = 0.5,
            Config = TinyModels.Config() with { RefineTasks = [VisionTask.Segmentation], RefineHidden = 3 },
        };
        new Trainer(options).Run();
        var (after, metadata) = ModelFile.Load(path);
        using (after)
        {
            Assert.Equal([VisionTask.Segmentation], metadata.Config.RefineTasks);
            foreach (var (name, p) in after.named_parameters())
            {
                bool head = name.StartsWith("heads.", StringComparison.Ordinal);
                if (!initial.TryGetValue(name, out var old))
                {
                    Assert.StartsWith("heads.segmentation.refine", name);
                    continue;
                }
                bool changed = !p.allclose(old);
                Assert.True(!changed || head, $"{name} changed although only the heads train");
                if (head && name.EndsWith("fc2.weight", StringComparison.Ordinal))
                {
                    Assert.True(changed, $"{name} did not train");
                }
            }
            Assert.False(after.get_parameter("heads.segmentation.refine_out.weight")!.abs().max().item<float>() == 0, "the refinement did not train");
        }
    }

    [Fact]
    public void AGrownBaseStartsFromTheTrainedModelAndTrainsItsNewBlocks()
    {
        new Trainer(Options(TrainStage.Base, VisionTask.Segmentation, 4)).Run();
        string path = Path.Combine(_dir, "model.safetensors");
        string grownPath = Path.Combine(_dir, "grown.safetensors");
        var (before, _) = ModelFile.Load(path);
        var initial = before.named_parameters().ToDictionary(p => p.name, p => p.parameter.clone());
        before.Dispose();

        var options = Options(TrainStage.Base, VisionTask.Segmentation, 6) with
        {
            InitPath = path,
            OutputPath = grownPath,
            GrowBlocks = 2,
            GrowAfter = 2,
        };
        new Trainer(options).Run();
        var (after, metadata) = ModelFile.Load(grownPath);
        using (after)
        {
            Assert.Equal((6, 4, 4), (metadata.Config.Blocks, metadata.Config.SplitLayer, metadata.Config.DeltaFrom));
            Assert.Equal(["base", "base"], metadata.Training.Select(t => t.Stage));
            foreach (var (name, p) in after.named_parameters().Where(p => p.name.StartsWith("tasks.", StringComparison.Ordinal)))
            {
                // Without auxiliary losses the base stage leaves the sub-tasks alone: old block 3's deltas are block 5's.
                Assert.True(p.allclose(initial[name.Replace(".blocks.4.", ".blocks.2.").Replace(".blocks.5.", ".blocks.3.")]), $"{name} changed or did not move");
            }
            Assert.True(after.get_parameter("blocks.2.mlp.fc2.weight")!.abs().max().item<float>() > 0, "new block 3 did not train");
        }
    }

    [Fact]
    public void ASubTaskStageCanAddAndTrainARefinementOfItsOwnHead()
    {
        new Trainer(Options(TrainStage.Base, VisionTask.Segmentation, 4)).Run();
        string path = Path.Combine(_dir, "model.safetensors");
        var options = Options(TrainStage.SubTask, VisionTask.Depth, 6) with
        {
            InitPath = path,
            Config = TinyModels.Config() with { RefineTasks = [VisionTask.Depth], RefineHidden = 2 },
        };
        new Trainer(options).Run();
        var (after, metadata) = ModelFile.Load(path);
        using (after)
        {
            Assert.Equal([VisionTask.Depth], metadata.Config.RefineTasks);
            Assert.True(after.get_parameter("heads.depth.refine_out.weight")!.abs().max().item<float>() > 0, "the depth refinement did not train");
        }
    }

    [Fact]
    public void JointSubTaskStageEqualsTrainingTheSubTasksOneAfterTheOther()
    {
        new Trainer(Options(TrainStage.Base, VisionTask.Segmentation, 4)).Run();
        string basePath = Path.Combine(_dir, "model.safetensors");
        string joint = Path.Combine(_dir, "joint.safetensors");
        string sequential = Path.Combine(_dir, "sequential.safetensors");

        new Trainer(Options(TrainStage.SubTask, VisionTask.Depth, 6) with
        {
            Tasks = [VisionTask.Depth, VisionTask.Normals], InitPath = basePath, OutputPath = joint,
        }).Run();
        new Trainer(Options(TrainStage.SubTask, VisionTask.Depth, 6) with { InitPath = basePath, OutputPath = sequential }).Run();
        new Trainer(Options(TrainStage.SubTask, VisionTask.Normals, 6) with { InitPath = sequential, OutputPath = sequential }).Run();

        AssertSameWeights(joint, sequential, rtol: 1e-4, atol: 1e-6);
        Assert.Equal("depth+normals", ModelFile.ReadMetadata(joint).Training[^1].Task);
    }

    private static void AssertSameWeights(string first, string second, double rtol, double atol)
    {
        var (a, _) = ModelFile.Load(first);
        var (b, _) = ModelFile.Load(second);
        using (a)
        using (b)
        {
            foreach (var (name, p) in a.named_parameters())
            {
                var q = b.get_parameter(name)!;
                Assert.True(p.allclose(q, rtol, atol), $"{name} differs by {(p - q).abs().max().item<float>()}");
            }
        }
    }

    [Fact]
    public void AuxiliaryLossesTrainTheSubTaskBranchesAndChangeTheSharedTrunk()
    {
        string plain = Path.Combine(_dir, "plain.safetensors");
        string aux = Path.Combine(_dir, "aux.safetensors");
        new Trainer(Options(TrainStage.Base, VisionTask.Segmentation, 6) with { OutputPath = plain }).Run();
        var record = new Trainer(Options(TrainStage.Base, VisionTask.Segmentation, 6) with { OutputPath = aux, AuxiliaryWeight = 0.5 }).Run();
        Assert.Contains("auxiliary depth+normals losses x0.5", record.Crop, StringComparison.Ordinal);

        var (a, _) = ModelFile.Load(plain);
        var (b, _) = ModelFile.Load(aux);
        using (a)
        using (b)
        {
            // Without auxiliary losses the sub-task deltas stay at their zero start; with them they train.
            Assert.All(a.named_parameters().Where(p => p.name.StartsWith("tasks.", StringComparison.Ordinal) && p.name.EndsWith("lora_B", StringComparison.Ordinal)),
                p => Assert.Equal(0f, p.parameter.abs().max().item<float>()));
            Assert.Contains(b.named_parameters(), p => p.name.StartsWith("tasks.normals.", StringComparison.Ordinal) && p.name.EndsWith("lora_B", StringComparison.Ordinal)
                && p.parameter.abs().max().item<float>() > 0);
            // Same seed and data: the shared blocks differ only through the auxiliary gradients.
            Assert.False(a.get_parameter("blocks.0.attn.qkv.weight")!.allclose(b.get_parameter("blocks.0.attn.qkv.weight")!));
        }
        var sub = Options(TrainStage.SubTask, VisionTask.Depth, 2) with { InitPath = aux, AuxiliaryWeight = 0.5 };
        Assert.Contains("base stage", Assert.Throws<ArgumentException>(() => new Trainer(sub).Run()).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AWarmStartedBaseStageRunsItsAuxiliaryLossesThroughTheRequestedSplit()
    {
        // Tiny model: 4 blocks, deltas from block 2 on, split 2. A warm start at split 3 must branch the
        // auxiliary losses after block 3: block 2's deltas go unused and stay at zero, block 3's train.
        string start = Path.Combine(_dir, "start.safetensors");
        string warm = Path.Combine(_dir, "warm.safetensors");
        new Trainer(Options(TrainStage.Base, VisionTask.Segmentation, 2) with { OutputPath = start }).Run();
        new Trainer(Options(TrainStage.Base, VisionTask.Segmentation, 6) with
        {
            InitPath = start, OutputPath = warm, AuxiliaryWeight = 0.5, SplitLayer = 3,
        }).Run();

        var (model, metadata) = ModelFile.Load(warm);
        using (model)
        {
            Assert.Equal(3, metadata.Config.SplitLayer);
            Assert.Equal(2, metadata.Config.DeltaFrom);
            float MaxB(string task, int block) => model.named_parameters()
                .Where(p => p.name.StartsWith($"tasks.{task}.blocks.{block}.", StringComparison.Ordinal) && p.name.EndsWith("lora_B", StringComparison.Ordinal))
                .Max(p => p.parameter.abs().max().item<float>());
            Assert.Equal(0f, MaxB("normals", 2));
            Assert.Equal(0f, MaxB("depth", 2));
            Assert.True(MaxB("normals", 3) > 0, "block 3's normals deltas did not train");
            Assert.True(MaxB("depth", 3) > 0, "block 3's depth deltas did not train");
        }
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(0.5)]
    public void AnInterruptedRunResumedFromItsCheckpointEndsWithTheWeightsOfAStraightRun(double temporal)
    {
        // Base stage with the auxiliary losses (every trainable group) and, in one case, neighbour pairs.
        var options = Options(TrainStage.Base, VisionTask.Segmentation, 20) with { AuxiliaryWeight = 0.5, TemporalWeight = temporal, ReplacePerStep = 2 };
        string straight = Path.Combine(_dir, "straight.safetensors");
        string resumed = Path.Combine(_dir, "resumed.safetensors");
        new Trainer(options with { OutputPath = straight }).Run();

        using var stop = new CancellationTokenSource();
        var interrupted = new Trainer(options with { OutputPath = resumed }, p =>
        {
            if (p.Step > 10)
            {
                stop.Cancel();
            }
        });
        var partial = interrupted.Run(stop.Token);
        Assert.Equal(11, partial.Steps);
        Assert.False(File.Exists(resumed), "an interrupted run writes only its checkpoint");
        Assert.True(File.Exists(interrupted.CheckpointPath + ".optim"), "the checkpoint holds the optimiser state");

        var steps = new List<int>();
        var record = new Trainer(options with { OutputPath = resumed, Resume = true }, p => steps.Add(p.Step)).Run();
        Assert.Equal(20, record.Steps);
        Assert.All(steps, step => Assert.True(step > 11, $"the resumed run reported step {step}"));
        Assert.False(File.Exists(interrupted.CheckpointPath), "the checkpoint is removed once the run completes");
        Assert.False(File.Exists(interrupted.CheckpointPath + ".optim"));

        AssertSameWeights(straight, resumed, rtol: 1e-5, atol: 1e-7);
    }

    [Fact]
    public void SeveralTasksAreOnlyAcceptedByTheSubTaskStage()
    {
        var options = Options(TrainStage.Single, VisionTask.Depth, 2) with { Tasks = [VisionTask.Depth, VisionTask.Normals] };
        var error = Assert.Throws<ArgumentException>(() => new Trainer(options).Run());
        Assert.Contains("depth+normals", error.Message, StringComparison.Ordinal);
    }

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }
}
