using System.Text.Json;

namespace StreamMtl.Training.Evaluation;

/// <summary>The result of <see cref="Evaluator.Run"/>; serialised as the eval command's JSON.</summary>
public sealed record EvalReport
{
    public string Model { get; init; } = "";
    public int Frames { get; init; }

    /// <summary>The held-out sequences: seeds FirstSeed..FirstSeed+Sequences-1 (1.. is the evaluation set).</summary>
    public int FirstSeed { get; init; } = 1;
    public int Sequences { get; init; }

    /// <summary>The data set evaluated on (KIND:PATH, its validation split); null for the synthetic sequences.</summary>
    public string? Data { get; init; }

    /// <summary>What the data set's labels are (ground truth, or teacher outputs: then the metrics are student-vs-teacher agreement).</summary>
    public string? Labels { get; init; }
    public int Width { get; init; }
    public int Height { get; init; }
    public int SplitLayer { get; init; }
    public float ShareThreshold { get; init; }

    /// <summary>Task metrics of the shared model, e.g. "segmentation.miou", "depth.abs_rel", "normals.mean_deg".</summary>
    public Dictionary<string, double> Metrics { get; init; } = [];

    /// <summary>The same metrics for the single-task baselines.</summary>
    public Dictionary<string, double> BaselineMetrics { get; init; } = [];

    /// <summary>Delta-m of the shared model vs the baselines, in percent (higher is better).</summary>
    public double? DeltaM { get; set; }

    public double MsPerFrame { get; init; }

    /// <summary>Under <c>--depth-ref</c>: relative depth on a real image against its disparity ground truth; null otherwise.</summary>
    public DepthReference.Report? DepthReference { get; set; }

    /// <summary>Executed GFLOPs per frame by task (the base task carries the shared trunk).</summary>
    public Dictionary<string, double> ExecutedGflops { get; init; } = [];

    public Dictionary<string, double> DenseGflops { get; init; } = [];

    /// <summary>GFLOPs per frame of the base task alone.</summary>
    public double BaseOnlyGflops { get; set; }

    /// <summary>Executed cost of all tasks relative to the base task alone.</summary>
    public double AllTasksOverBase { get; set; }

    /// <summary>The same ratio for separate single-task models of the same size.</summary>
    public double SeparateModelsOverBase { get; set; }

    /// <summary>Fraction of sub-task linear rows computed (not shared) when the sharing threshold is on.</summary>
    public double? SharedRowsComputedFraction { get; init; }

    /// <summary>Under <c>--budget</c>: the executed FLOP fraction over the frames and the units they ran; null otherwise.</summary>
    public BudgetReport? Budget { get; set; }

    /// <summary>Under <c>--resolution</c>: the grid the frames ran at and its executed FLOPs against the frame's own dense pass; null otherwise.</summary>
    public ResolutionReport? Resolution { get; set; }

    /// <summary>Parameter bytes (fp32) each task owns and runs at the evaluated split; the base task owns the shared trunk.</summary>
    public Dictionary<string, long> ParameterBytes { get; init; } = [];

    /// <summary>
    /// What a model file records of this evaluation (its metadata "metrics"): every task metric, the executed
    /// GFLOPs per task, the cost of all tasks over the base, Delta-m when baselines were given, and the evaluation set.
    /// </summary>
    public Dictionary<string, double> HeadlineFigures(EvalOptions options)
    {
        var figures = new Dictionary<string, double>(Metrics, StringComparer.Ordinal);
        foreach (var (task, gflops) in ExecutedGflops)
        {
            figures[$"gflops.{task}"] = gflops;
        }
        figures["gflops.all_tasks_over_base"] = AllTasksOverBase;
        if (DeltaM is double deltaM)
        {
            figures["delta_m_percent"] = deltaM;
        }
        figures["eval.sequences"] = options.Sequences;
        figures["eval.frames"] = Frames;
        figures["eval.width"] = Width;
        figures["eval.height"] = Height;
        return figures;
    }

    public string ToJson() => JsonSerializer.Serialize(this, new JsonSerializerOptions
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
    });
}

/// <summary>
/// The lower-resolution baseline's pass (<see cref="EvalOptions.Resolution"/>): the target fraction, the token grid and input
/// size the frames were downscaled to, and the executed FLOPs over the frame's own dense pass (mean over the frames).
/// </summary>
public sealed record ResolutionReport(double Target, int Rows, int Cols, int InputWidth, int InputHeight, double ExecutedFraction);
