using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace StreamMtl.Pipeline.Model;

/// <summary>A linear layer's weight [out, in] and bias [out], held as parameters so rows can be gathered.</summary>
public sealed class LinearWeights : nn.Module
{
    private readonly Parameter _weight;
    private readonly Parameter _bias;
    private readonly DerivedTensor _weightBFloat16 = new();
    private readonly DerivedTensor _biasBFloat16 = new();
    private readonly DerivedPacked _packed = new();

    public LinearWeights(string name, long inFeatures, long outFeatures) : base(name)
    {
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        _weight = nn.Parameter(empty(outFeatures, inFeatures));
        _bias = nn.Parameter(zeros(outFeatures));
        using (no_grad())
        {
            TruncatedNormal.Fill(_weight, 0.02);
        }
        register_parameter("weight", _weight);
        register_parameter("bias", _bias);
    }

    public long InFeatures { get; }

    public long OutFeatures { get; }

    public Tensor Weight => _weight;

    /// <summary>
    /// A shared low-rank adapter applied on the fly after this layer (<see cref="SharedAdapters"/>, while training one);
    /// null = none, the plain layer. Serving folds adapters into <see cref="Weight"/> instead.
    /// </summary>
    public LowRankDelta? Adapter { get; internal set; }

    public Tensor Apply(Tensor x) => WithAdapter(x, KeepsBFloat16Copies
        ? Autocast.LinearOnBFloat16Weights(x, _weightBFloat16.Get(() => _weight.to(ScalarType.BFloat16)), BiasBFloat16)
        : Packs(x) ? PackedLinear.Apply(x, _packed.Get(() => _weight), _bias)
        : Autocast.Linear(x, _weight, _bias));

    /// <summary>
    /// This layer's bias with another weight of the same shape (a sub-task's folded W + B*A); <paramref name="weightBFloat16"/>
    /// and <paramref name="weightPacked"/> give that weight's bfloat16 and packed copies, used where this layer would use its own.
    /// </summary>
    internal Tensor Apply(Tensor x, Tensor weight, Func<Tensor> weightBFloat16, Func<PackedWeight> weightPacked) => WithAdapter(x, KeepsBFloat16Copies
        ? Autocast.LinearOnBFloat16Weights(x, weightBFloat16(), BiasBFloat16)
        : Packs(x) ? PackedLinear.Apply(x, weightPacked(), _bias)
        : Autocast.Linear(x, weight, _bias));

    /// <summary>Whether this product runs on a packed copy of the weight (<see cref="PackedLinear"/>): few rows, inference only.</summary>
    private bool Packs(Tensor x) => !training && !Autocast.IsBFloat16 && PackedLinear.Takes(x, OutFeatures);

    private Tensor WithAdapter(Tensor x, Tensor output) => Adapter is { } adapter ? output.PlusInPlace(adapter.Apply(x)) : output;

    /// <summary>
    /// Inside <see cref="Autocast.BFloat16"/>, passes that cannot change the weights (no gradients, eval mode) multiply
    /// by bfloat16 copies made once: casting the weight on every call cost as much as a product of a few dozen rows.
    /// </summary>
    private bool KeepsBFloat16Copies => Autocast.IsBFloat16 && !training && !is_grad_enabled();

    private Tensor BiasBFloat16 => _biasBFloat16.Get(() => _bias.to(ScalarType.BFloat16));

    /// <summary>Drops the bfloat16 copies (after the weights changed in place).</summary>
    public void ClearCopies()
    {
        _weightBFloat16.Clear();
        _biasBFloat16.Clear();
        _packed.Clear();
    }

    public override void train(bool on = true)
    {
        ClearCopies();
        base.train(on);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            ClearCopies();
        }
        base.Dispose(disposing);
    }
}
