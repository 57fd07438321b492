using StreamMtl.Pipeline.Model;
using StreamMtl.Training.Data;

namespace StreamMtl.Training;

/// <summary>Training stages: the base task, a sub-task's deltas on a frozen base, or a single-task baseline.</summary>
public enum TrainStage
{
    Base,
    SubTask,
    Single,
}

/// <summary>Settings of one training stage.</summary>
public sealed record TrainOptions
{
    public TrainStage Stage { get; init; } = TrainStage.Base;

    /// <summary>The task trained: the base task (Base), a sub-task (SubTask) or the baseline's task (Single).</summary>
    public VisionTask Task { get; init; } = VisionTask.Segmentation;

    /// <summary>
    /// SubTask stage only: several sub-tasks trained together on one forward pass of the frozen trunk. Each
    /// has its own loss and parameters and its gradients are clipped on their own, so this equals training
    /// them one after another on the same batches, at about three quarters of the cost. Empty = just <see cref="Task"/>.
    /// </summary>
    public VisionTask[] Tasks { get; init; } = [];

    /// <summary>The tasks this stage trains.</summary>
    public IReadOnlyList<VisionTask> TrainedTasks => Tasks.Length > 0 ? Tasks : [Task];

    /// <summary>The trained tasks' names joined with '+', as recorded in checkpoints and training records.</summary>
    public string TasksName => string.Join("+", TrainedTasks.Select(t => t.Name()));

    public int Steps { get; init; } = 3000;
    public int Batch { get; init; } = 8;

    /// <summary>Crop size in tokens; crops are token-aligned windows of the full frame.</summary>
    public int CropRows { get; init; } = 8;
    public int CropCols { get; init; } = 10;

    /// <summary>Every Nth step trains on the full frame (global attention over the whole grid); 0 = never.</summary>
    public int FullFrameEvery { get; init; } = 8;

    /// <summary>Weight segmentation classes by (1/frequency)^0.5 so small objects are not drowned by floor and walls.</summary>
    public bool BalanceClasses { get; init; } = true;

    /// <summary>
    /// Weight of the temporal-consistency penalty (<see cref="Losses.TemporalPenalty"/>) on the trained blocks'
    /// outputs; 0 = off. When on, each batch is Batch/2 pairs of neighbouring frames (same crop and flip), both
    /// frames supervised, so a step costs the same.
    /// </summary>
    public double TemporalWeight { get; init; }

    /// <summary>
    /// Base stage only: weight of auxiliary depth and normals losses, computed through the sub-task branches
    /// (their blocks split+1..L and heads), so the shared blocks 1..split also learn the geometry the sub-tasks
    /// read from them; 0 = off (the seed method: the base learns its own task only). The sub-task parameters
    /// train along and a sub-task stage fine-tunes them on the frozen base as usual.
    /// </summary>
    public double AuxiliaryWeight { get; init; }

    /// <summary>
    /// Weight of the output-stability penalty (<see cref="Losses.Stability"/>); 0 = off. When on, each batch is
    /// Batch/2 twins: the same rendered frame twice, same crop and flip, each copy degraded on its own by the
    /// compression augmentation (so it needs <see cref="JpegMinQuality"/>), both supervised; the penalty is the
    /// difference between the trained tasks' outputs on the two copies. It asks for what a static camera's
    /// compressed stream needs: the same decision when only the artefacts change. Not with <see cref="TemporalWeight"/>,
    /// which pairs neighbouring frames instead.
    /// </summary>
    public double StabilityWeight { get; init; }

    /// <summary>
    /// Weight of the Lovász-softmax loss (<see cref="Losses.LovaszSoftmax"/>) added to the segmentation loss, a
    /// surrogate of the IoU the task is judged by; 0 = off (cross-entropy alone).
    /// </summary>
    public double LovaszWeight { get; init; }

    /// <summary>Whether batches are pairs (neighbours for the temporal penalty, twins for the stability penalty).</summary>
    public bool Paired => TemporalWeight > 0 || StabilityWeight > 0;

    /// <summary>
    /// Train the heads only (parameters under heads.*), everything else frozen: e.g. a head refinement on a
    /// trained trunk, without moving the trunk's decisions. The trunk then runs without building a backward graph.
    /// </summary>
    public bool HeadsOnly { get; init; }

    /// <summary>
    /// Base stage from <see cref="InitPath"/>: insert this many identity blocks into the loaded model's shared
    /// trunk after block <see cref="GrowAfter"/> before training (<see cref="Model.ModelGrowth"/>); 0 = none.
    /// </summary>
    public int GrowBlocks { get; init; }

    /// <summary>The trained block the inserted blocks follow (0 = before the first); see <see cref="GrowBlocks"/>.</summary>
    public int GrowAfter { get; init; }

    /// <summary>
    /// Adapt instead of retraining (MTLoRA): with <see cref="InitPath"/>, freeze every weight of the loaded model and train
    /// shared low-rank adapters of this rank on the trunk's linears, the sub-tasks' own parameters and the heads; the
    /// output is an adapter file (<see cref="Pipeline.Weights.AdapterFile"/>), not a model. 0 = off.
    /// </summary>
    public int AdaptRank { get; init; }

    /// <summary>Whether this run adapts (<see cref="AdaptRank"/> &gt; 0).</summary>
    public bool Adapting => AdaptRank > 0;

    /// <summary>Largest frame distance between the two frames of a neighbour pair (the seed uses 1..2).</summary>
    public int TemporalGap { get; init; } = 2;

    /// <summary>
    /// Lowest JPEG quality of the compression augmentation (<see cref="CameraDegradation"/>); 0 = off. Real streams
    /// are compressed; the synthetic camera's frames are not.
    /// </summary>
    public int JpegMinQuality { get; init; }

    /// <summary>
    /// Run the forward pass's matrix products in bfloat16 (<see cref="Model.Autocast"/>); weights, gradients and
    /// optimiser state stay float32. Measured 1.23x the steps per second on this AVX-512 BF16 CPU (docs/model.md).
    /// </summary>
    public bool BFloat16 { get; init; }

    public int PoolSize { get; init; } = 768;
    public int ReplacePerStep { get; init; } = 2;
    public double LearningRate { get; init; } = 1e-3;
    public double WeightDecay { get; init; } = 0.05;
    public int WarmupSteps { get; init; } = 150;
    public int Seed { get; init; } = 1;
    public int CheckpointEvery { get; init; } = 250;

    /// <summary>Where the trained model is written (safetensors); checkpoints go beside it.</summary>
    public required string OutputPath { get; init; }

    /// <summary>Model to start from: required for SubTask; for Base/Single an optional warm start.</summary>
    public string? InitPath { get; init; }

    /// <summary>Split layer to train with when starting from a file (SubTask: the sub-task's own blocks are split+1..L; Base: where the auxiliary losses branch off); null keeps the file's.</summary>
    public int? SplitLayer { get; init; }

    /// <summary>Continue from the checkpoint beside <see cref="OutputPath"/> if one exists.</summary>
    public bool Resume { get; init; }

    /// <summary>Architecture for a fresh Base or Single model.</summary>
    public ModelConfig Config { get; init; } = new();

    /// <summary>
    /// A data set on disk to train on (its train split; frames resized to <see cref="Width"/> x <see cref="Height"/>); null = the
    /// synthetic camera. The model's class table comes from the data: a fresh model gets it, and a model loaded with
    /// <see cref="InitPath"/> whose class table differs gets a new segmentation head (its other weights kept).
    /// </summary>
    public Dataset? Data { get; init; }

    /// <summary>
    /// Base stage only: real frames with a feature teacher's maps (<see cref="Data.FeatureFrames"/>, the folder `streammtl label`
    /// writes with a features teacher, e.g. ResNet-18 layer3). Each step adds <see cref="FeatureBatch"/> full frames of them, on
    /// which a linear probe from the trunk's tokens at the split layer must predict the teacher's map at the token grid (loss
    /// 1 - cosine similarity, x <see cref="FeatureWeight"/>), beside the usual losses. The probe is not saved. null = off.
    /// </summary>
    public string? FeaturesPath { get; init; }

    public double FeatureWeight { get; init; } = 1;

    public int FeatureBatch { get; init; } = 4;

    public int Width { get; init; } = 320;
    public int Height { get; init; } = 240;
}
