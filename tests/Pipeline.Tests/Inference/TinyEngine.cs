using Microsoft.Extensions.Logging.Abstractions;
using StreamMtl.Pipeline.Inference;
using StreamMtl.Pipeline.Weights;

namespace StreamMtl.Pipeline.Tests.Inference;

/// <summary>An inference engine over a tiny random-weight model saved to a scratch directory (64x48 input, 3 tasks).</summary>
internal sealed class TinyEngine : IDisposable
{
    public const int Width = 64;
    public const int Height = 48;
    private readonly TempDirectory _dir = new();

    public TinyEngine(IInferenceMetrics metrics, int batchSize = 4, TimeSpan? batchTimeout = null, int workers = 1, int threads = 0, bool batchReuse = false,
        TimeSpan? reuseBatchAfter = null)
    {
        ModelPath = _dir.File("tiny.safetensors");
        using (var model = TinyModels.WithRandomDeltas(TinyModels.Config()))
        {
            ModelFile.Save(ModelPath, model, new ModelMetadata { Config = model.Config, Classes = ["a", "b", "c", "d", "e", "f", "g"] });
        }
        Engine = new InferenceEngine(ModelPath, new ModelOptions { InputWidth = Width, InputHeight = Height, Threads = threads }, new PipelineOptions
        {
            BatchSize = batchSize,
            InferenceWorkers = workers,
            BatchReuse = batchReuse,
            // Only what a test asks for: no batches from frames that waited (a slow machine would make them).
            ReuseBatchAfter = reuseBatchAfter ?? TimeSpan.Zero,
            BatchTimeout = batchTimeout ?? TimeSpan.FromMilliseconds(2),
        }, metrics, NullLogger<InferenceEngine>.Instance, TimeProvider.System);
    }

    public string ModelPath { get; }
    public InferenceEngine Engine { get; }

    public void Dispose()
    {
        Engine.Dispose();
        _dir.Dispose();
    }
}
