using System.Text.Json.Serialization;
using StreamMtl.Pipeline.Model.Policy;

namespace StreamMtl.Pipeline.Model;

/// <summary>Architecture of the multi-task ViT; stored with the weights in the safetensors metadata.</summary>
public sealed record ModelConfig
{
    /// <summary>The task computed in full (all blocks); segmentation for the shipped model, any task for single-task baselines.</summary>
    public VisionTask BaseTask { get; init; } = VisionTask.Segmentation;

    /// <summary>Tasks that share the base trunk and add low-rank deltas; empty for a single-task model.</summary>
    public VisionTask[] SubTasks { get; init; } = [VisionTask.Depth, VisionTask.Normals];

    public int Patch { get; init; } = 16;
    public int Dim { get; init; } = 192;
    public int Heads { get; init; } = 3;
    public int Blocks { get; init; } = 8;
    public int MlpRatio { get; init; } = 4;

    /// <summary>Blocks 1..SplitLayer are shared: sub-tasks take the base task's activations for them.</summary>
    public int SplitLayer { get; init; } = 4;

    /// <summary>Blocks whose sub-task low-rank deltas exist in the weights (first delta block = DeltaFrom + 1).</summary>
    public int DeltaFrom { get; init; } = 4;

    /// <summary>Rank r of the sub-task weight deltas W = W_base + B*A.</summary>
    public int Rank { get; init; } = 16;

    /// <summary>
    /// Channel widths of the hierarchical-MLP patch stem, one per level below the patch (e.g. [48, 96]
    /// embeds 4x4 sub-patches, merges 2x2 twice); empty = the plain linear patch embedding.
    /// </summary>
    public int[] StemWidths { get; init; } = [];

    /// <summary>Hidden width of the token-local heads.</summary>
    public int HeadHidden { get; init; } = 128;

    /// <summary>Tasks whose head adds the pixel-aware convolution refinement (see <see cref="TokenHead"/>); empty = none.</summary>
    public VisionTask[] RefineTasks { get; init; } = [];

    /// <summary>Hidden channels of the head refinement.</summary>
    public int RefineHidden { get; init; } = 6;

    public int Classes { get; init; } = 7;

    /// <summary>Token grid the position embedding was trained on (rows, cols); interpolated for other grids.</summary>
    public int PosGridRows { get; init; } = 15;
    public int PosGridCols { get; init; } = 20;

    /// <summary>Per-channel RGB mean and std applied to [0,1] pixels.</summary>
    public float[] Mean { get; init; } = [0.5f, 0.5f, 0.5f];
    public float[] Std { get; init; } = [0.25f, 0.25f, 0.25f];

    /// <summary>The compute policy's shape (parameters under policy.*); null = no policy, the model runs every unit.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public PolicyConfig? Policy { get; init; }

    public IEnumerable<VisionTask> AllTasks => SubTasks.Prepend(BaseTask);

    public bool Has(VisionTask task) => task == BaseTask || SubTasks.Contains(task);

    public int HeadDim => Dim / Heads;
    public int MlpDim => Dim * MlpRatio;
    public int PatchInputs => 3 * Patch * Patch;

    /// <summary>Lists every problem with the configuration; empty when valid.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (Patch < 1) errors.Add($"patch must be >= 1, got {Patch}");
        if (Dim < 1 || Heads < 1 || Dim % Heads != 0) errors.Add($"dim {Dim} must be a positive multiple of heads {Heads}");
        if (Blocks < 1) errors.Add($"blocks must be >= 1, got {Blocks}");
        if (SplitLayer < 0 || SplitLayer > Blocks) errors.Add($"split layer must be in 0..{Blocks}, got {SplitLayer}");
        if (DeltaFrom < 0 || DeltaFrom > Blocks) errors.Add($"delta_from must be in 0..{Blocks}, got {DeltaFrom}");
        if (SplitLayer < DeltaFrom) errors.Add($"split layer {SplitLayer} must be >= delta_from {DeltaFrom}: the weights have no deltas for blocks before {DeltaFrom + 1}");
        if (StemWidths.Any(w => w < 1)) errors.Add("stem widths must be >= 1");
        if (StemWidths.Length > 0 && Patch % (1 << StemWidths.Length) != 0)
            errors.Add($"a {StemWidths.Length}-level stem needs the patch {Patch} to be a multiple of {1 << StemWidths.Length}");
        if (Rank < 1) errors.Add($"rank must be >= 1, got {Rank}");
        if (RefineTasks.Length > 0 && RefineHidden < 1) errors.Add($"refine hidden must be >= 1, got {RefineHidden}");
        if (RefineTasks.Any(t => !Has(t))) errors.Add($"refined tasks must be tasks of the model, got {string.Join(", ", RefineTasks.Where(t => !Has(t)).Select(t => t.Name()))}");
        if (RefineTasks.Distinct().Count() != RefineTasks.Length) errors.Add("refined tasks must be distinct");
        if (Classes < 2) errors.Add($"classes must be >= 2, got {Classes}");
        if (PosGridRows < 1 || PosGridCols < 1) errors.Add("position grid must be at least 1x1");
        if (SubTasks.Contains(BaseTask)) errors.Add($"sub-tasks must not include the base task {BaseTask.Name()}");
        if (SubTasks.Distinct().Count() != SubTasks.Length) errors.Add("sub-tasks must be distinct");
        if (Policy != null) errors.AddRange(Policy.Validate());
        if (Mean.Length != 3 || Std.Length != 3 || Std.Any(s => s <= 0)) errors.Add("mean/std must have 3 entries with std > 0");
        return errors;
    }
}
