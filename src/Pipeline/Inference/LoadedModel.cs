using StreamMtl.Pipeline.Model;
using StreamMtl.Pipeline.Weights;

namespace StreamMtl.Pipeline.Inference;

/// <summary>
/// What the loaded model is: its architecture and metadata, the input size frames are resized to, a version string and
/// the precision its matrix products run in (float32 or bfloat16).
/// </summary>
public sealed record LoadedModel(string Path, ModelMetadata Metadata, int InputWidth, int InputHeight, string Version, TimeSpan LoadTime,
    string Precision)
{
    public ModelConfig Config => Metadata.Config;

    public TaskSet Tasks => Config.AllTasks.Aggregate(TaskSet.None, (set, t) => set | t.ToSet());
}
