using static TorchSharp.torch;

namespace StreamMtl.Pipeline.Model;

/// <summary>The inputs and outputs of a base block's four linears, kept for sub-task activation sharing.</summary>
internal sealed class BlockTrace
{
    private readonly Tensor[] _inputs = new Tensor[4];
    private readonly Tensor[] _outputs = new Tensor[4];

    public Tensor Input(BlockLinear which) => _inputs[(int)which];

    public Tensor Output(BlockLinear which) => _outputs[(int)which];

    public void Record(BlockLinear which, Tensor input, Tensor output)
    {
        _inputs[(int)which] = input;
        _outputs[(int)which] = output;
    }
}
