using TorchSharp;

namespace StreamMtl.Pipeline.Model;

/// <summary>A named container that only exists to give parameters their hierarchical names.</summary>
public sealed class Group : torch.nn.Module
{
    public Group(string name, params (string Name, torch.nn.Module Module)[] children) : base(name)
    {
        foreach (var (childName, module) in children)
        {
            register_module(childName, module);
        }
    }
}
