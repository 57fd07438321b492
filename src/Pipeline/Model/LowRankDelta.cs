using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace StreamMtl.Pipeline.Model;

/// <summary>A low-rank weight delta B*A (A: [rank, in], B: [out, rank]); B starts at zero so W_base + BA = W_base.</summary>
public sealed class LowRankDelta : nn.Module
{
    private readonly Parameter _a;
    private readonly Parameter _b;

    public LowRankDelta(string name, long inFeatures, long outFeatures, long rank) : base(name)
    {
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        Rank = rank;
        _a = nn.Parameter(empty(rank, inFeatures));
        _b = nn.Parameter(zeros(outFeatures, rank));
        using (no_grad())
        {
            nn.init.normal_(_a, std: 1.0 / Math.Sqrt(inFeatures));
        }
        register_parameter("lora_A", _a);
        register_parameter("lora_B", _b);
    }

    public long InFeatures { get; }

    public long OutFeatures { get; }

    public long Rank { get; }

    public Tensor Apply(Tensor x) => Autocast.Linear(Autocast.Linear(x, _a), _b);

    /// <summary>The dense delta B*A, for tests and for folding into a plain weight.</summary>
    public Tensor Dense() => _b.matmul(_a);
}
