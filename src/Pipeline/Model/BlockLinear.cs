using TorchSharp;

namespace StreamMtl.Pipeline.Model;

/// <summary>The four linear stages of a transformer block, in the order they run.</summary>
public enum BlockLinear
{
    Qkv = 0,
    Proj = 1,
    Fc1 = 2,
    Fc2 = 3,
}
