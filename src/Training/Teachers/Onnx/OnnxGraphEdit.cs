using Google.Protobuf;

namespace StreamMtl.Training.Teachers.Onnx;

/// <summary>
/// Exposes an inner node output of an ONNX model as its only graph output, at any input size: the ModelProto is read through
/// the fields of onnx.proto this needs (onnx_subset.proto; everything else is kept as unknown fields and written back
/// unchanged), the named value becomes the graph output, the nodes it does not depend on (and their weights) are pruned,
/// and the input's spatial dimensions become symbolic. A classifier's later layers (a fixed-size pooling or reshape) then
/// no longer pin the input to the size it was exported at.
/// </summary>
public static class OnnxGraphEdit
{
    private const int Float = 1; // TensorProto.DataType.FLOAT

    /// <summary>The edited model's bytes: <paramref name="node"/> (a node output's name) as the only output of the model at <paramref name="modelPath"/>.</summary>
    public static byte[] ExposeNode(string modelPath, string node)
    {
        ModelProto model;
        try
        {
            model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(modelPath));
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new TeacherException($"{modelPath}: not an ONNX model ({e.Message})", e);
        }
        var graph = model.Graph ?? throw new TeacherException($"{modelPath}: not an ONNX model (no graph)");
        if (!graph.Node.Any(n => n.Output.Contains(node)))
        {
            var near = graph.Node.SelectMany(n => n.Output).Where(o => o.Contains(node, StringComparison.OrdinalIgnoreCase) || node.Contains(o, StringComparison.OrdinalIgnoreCase)).Take(5).ToList();
            throw new TeacherException($"{modelPath}: no node output named '{node}' ({graph.Node.Count} nodes" +
                (near.Count > 0 ? $"; similar: {string.Join(", ", near)}" : $"; e.g. {string.Join(", ", graph.Node.Take(3).SelectMany(n => n.Output))}") + ")");
        }
        Prune(graph, node);
        graph.Output.Clear();
        graph.Output.Add(new ValueInfoProto
        {
            Name = node,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = Float } },
        });
        // Intermediate shapes were recorded at the export size; ONNX Runtime infers them again.
        graph.ValueInfo.Clear();
        foreach (var input in graph.Input.Where(i => i.Type?.TensorType?.Shape is { Dim.Count: 4 }))
        {
            var dims = input.Type.TensorType.Shape.Dim;
            dims[2] = new TensorShapeProto.Types.Dimension { DimParam = "height" };
            dims[3] = new TensorShapeProto.Types.Dimension { DimParam = "width" };
        }
        return model.ToByteArray();
    }

    /// <summary>Keeps the nodes <paramref name="output"/> depends on (in their order), the initializers and inputs they read.</summary>
    private static void Prune(GraphProto graph, string output)
    {
        var needed = new HashSet<string> { output };
        var keep = new bool[graph.Node.Count];
        for (int i = graph.Node.Count - 1; i >= 0; i--)
        {
            var n = graph.Node[i];
            if (n.Output.Any(needed.Contains))
            {
                keep[i] = true;
                needed.UnionWith(n.Input.Where(s => s.Length > 0));
            }
        }
        var nodes = graph.Node.Where((_, i) => keep[i]).ToList();
        graph.Node.Clear();
        graph.Node.AddRange(nodes);
        var initializers = graph.Initializer.Where(t => needed.Contains(t.Name)).ToList();
        graph.Initializer.Clear();
        graph.Initializer.AddRange(initializers);
        var inputs = graph.Input.Where(v => needed.Contains(v.Name)).ToList();
        graph.Input.Clear();
        graph.Input.AddRange(inputs);
    }
}
