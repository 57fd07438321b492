using StreamMtl.Pipeline.Model;
using StreamMtl.Training;
using StreamMtl.Training.Policy;

namespace StreamMtl.Training.Tests;

/// <summary>Training options for the tiny test model: small crops, a small pool, 64x48 frames, no checkpoints.</summary>
internal static class TinyTraining
{
    /// <summary>
    /// Training tests share one xUnit collection so they run one after another: a trainer seeds libtorch's
    /// process-wide generator, and tests comparing two runs must not have another test's draws in between.
    /// </summary>
    public const string Collection = "training";

    public static TrainOptions Options(string output, TrainStage stage, VisionTask task, int steps) => new()
    {
        Stage = stage,
        Task = task,
        Steps = steps,
        Batch = 4,
        CropRows = 2,
        CropCols = 3,
        FullFrameEvery = 4,
        PoolSize = 8,
        ReplacePerStep = 1,
        LearningRate = 3e-3,
        WarmupSteps = 2,
        CheckpointEvery = 0,
        Width = 64,
        Height = 48,
        Config = TinyModels.Config(),
        OutputPath = output,
    };

    /// <summary>Policy co-training of the tiny model: the same frames and crops, a fast policy learning rate.</summary>
    public static PolicyTrainOptions PolicyOptions(string init, string output, int steps) => new()
    {
        InitPath = init,
        OutputPath = output,
        Steps = steps,
        Batch = 4,
        CropRows = 2,
        CropCols = 3,
        PoolSize = 8,
        ReplacePerStep = 1,
        Width = 64,
        Height = 48,
        PolicyLearningRate = 2e-2,
        ModelLearningRate = 1e-4,
    };
}
