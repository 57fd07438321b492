using StreamMtl.Pipeline.Model;

namespace StreamMtl.Tests.Shared;

/// <summary>Small configurations that run in milliseconds.</summary>
internal static class TinyModels
{
    public static ModelConfig Config(int blocks = 4, int split = 2) => new()
    {
        Dim = 32,
        Heads = 2,
        Blocks = blocks,
        SplitLayer = split,
        DeltaFrom = split,
        Rank = 4,
        HeadHidden = 16,
        PosGridRows = 3,
        PosGridCols = 4,
        Classes = 7,
    };

    /// <summary>
    /// A model whose sub-task deltas and head refinements are non-zero (fresh deltas have B = 0 and equal the
    /// base; a fresh refinement adds zero).
    /// </summary>
    public static MultiTaskVit WithRandomDeltas(ModelConfig config, int seed = 5)
    {
        TorchSharp.torch.random.manual_seed(seed);
        var model = new MultiTaskVit(config);
        using (TorchSharp.torch.no_grad())
        {
            foreach (var (name, p) in model.named_parameters())
            {
                if (name.EndsWith("lora_B", StringComparison.Ordinal) || name.Contains(".refine_out.", StringComparison.Ordinal))
                {
                    p.normal_(0, 0.05);
                }
            }
        }
        model.eval();
        return model;
    }
}
