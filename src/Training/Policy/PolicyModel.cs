using StreamMtl.Pipeline.Model;
using StreamMtl.Pipeline.Model.Policy;
using StreamMtl.Pipeline.Weights;
using static TorchSharp.torch;

namespace StreamMtl.Training.Policy;

/// <summary>Gives a trained model a fresh compute policy (the model's weights unchanged).</summary>
public static class PolicyModel
{
    /// <summary>
    /// Bias of the fresh policy's unit logits: sigmoid(1.5) = 0.82, so co-training starts near the full model and the
    /// FLOP term pulls the units it can spare down, rather than starting from half the blocks switched off.
    /// </summary>
    public const double InitialLogit = 1.5;

    /// <summary>
    /// Loads <paramref name="path"/>; a model without a policy gets one of <paramref name="hidden"/> units (its other
    /// weights copied), a model with one keeps it.
    /// </summary>
    public static (MultiTaskVit Model, ModelMetadata Metadata) Load(string path, int hidden)
    {
        var (loaded, metadata) = ModelFile.Load(path);
        if (loaded.Policy != null)
        {
            return (loaded, metadata);
        }
        using (loaded)
        {
            var config = loaded.Config with { Policy = new PolicyConfig { Hidden = hidden } };
            var model = new MultiTaskVit(config);
            var source = loaded.named_parameters().ToDictionary(p => p.name, p => p.parameter);
            using (no_grad())
            {
                foreach (var (name, parameter) in model.named_parameters())
                {
                    if (source.TryGetValue(name, out var value))
                    {
                        parameter.copy_(value);
                    }
                    else if (name == "policy.fc2.bias")
                    {
                        parameter.fill_(Scalars.Of(InitialLogit));
                    }
                }
            }
            model.eval();
            return (model, metadata with { Config = config });
        }
    }
}
