using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace StreamMtl.Pipeline.Model;

/// <summary>
/// MTLoRA's task-agnostic half: one low-rank adapter W' = W + B*A per trunk-block linear (qkv, proj, fc1, fc2), applied
/// for every task that runs that block. B starts at zero, so a fresh set is the identity. Tensor names:
/// adapters.blocks.I.attn.qkv.lora_A (and .lora_B), as the blocks' own. Not part of the model's module tree: a model
/// file never holds adapters; <see cref="MultiTaskVit.AttachAdapters"/> applies them on the fly (training) and
/// <see cref="MultiTaskVit.FoldAdapters"/> adds them into the weights (serving).
/// </summary>
public sealed class SharedAdapters : nn.Module
{
    /// <summary>Name prefix of the adapter tensors in an adapter file.</summary>
    public const string Prefix = "adapters.";

    private readonly LowRankDelta[][] _deltas;

    public SharedAdapters(ModelConfig config, long rank) : base("adapters")
    {
        if (rank < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(rank), $"adapter rank must be >= 1, got {rank}");
        }
        Rank = rank;
        long d = config.Dim;
        _deltas = new LowRankDelta[config.Blocks][];
        var blocks = new List<(string, nn.Module)>();
        for (int i = 0; i < config.Blocks; i++)
        {
            var deltas = new[]
            {
                new LowRankDelta("qkv", d, 3 * d, rank),
                new LowRankDelta("proj", d, d, rank),
                new LowRankDelta("fc1", d, config.MlpDim, rank),
                new LowRankDelta("fc2", config.MlpDim, d, rank),
            };
            _deltas[i] = deltas;
            blocks.Add(($"{i}", new Group($"{i}", ("attn", new Group("attn", ("qkv", deltas[0]), ("proj", deltas[1]))),
                ("mlp", new Group("mlp", ("fc1", deltas[2]), ("fc2", deltas[3]))))));
        }
        register_module("blocks", new Group("blocks", [.. blocks]));
    }

    public long Rank { get; }

    public int Blocks => _deltas.Length;

    public LowRankDelta this[int block, BlockLinear which] => _deltas[block][(int)which];

    /// <summary>The adapter tensors under their file names (<see cref="Prefix"/> + module path).</summary>
    public IEnumerable<(string Name, Parameter Parameter)> NamedTensors() =>
        named_parameters().Select(p => (Prefix + p.name, p.parameter));
}
