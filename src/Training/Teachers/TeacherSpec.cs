using System.Text.Json;

namespace StreamMtl.Training.Teachers;

/// <summary>What a teacher's output means.</summary>
public enum OutputKind
{
    /// <summary>[1,C,H,W] class scores; the label is the argmax, the class names come from the spec.</summary>
    ClassLogits,
    /// <summary>[1,1,H,W] or [1,H,W] depth in metres (after <see cref="TeacherSpec.DepthScale"/>).</summary>
    MetricDepth,
    /// <summary>Depth up to an unknown scale and shift per frame; stored as-is and aligned by scale and shift when compared.</summary>
    RelativeDepth,
    /// <summary>Inverse depth (disparity) up to an unknown scale and shift per frame; stored as-is, like relative depth.</summary>
    InverseDepth,
    /// <summary>[1,3,H,W] surface normals, made unit length; signs per axis from <see cref="TeacherSpec.AxisSigns"/>.</summary>
    Normals,
    /// <summary>Any shape: a feature vector or map, stored as the model gives it.</summary>
    Features,
}

/// <summary>Where channels sit in a dense tensor.</summary>
public enum TensorLayout
{
    Nchw,
    Nhwc,
}

/// <summary>
/// How to feed and read one teacher, from a small JSON file beside it (docs/datasets.md, "Teacher spec"). Strict: an unknown
/// field, a missing required field or a value of the wrong type is an error naming the spec file and the field.
/// </summary>
public sealed record TeacherSpec
{
    /// <summary>The tasks a teacher can label, with the output kinds each accepts.</summary>
    public static IReadOnlyDictionary<string, OutputKind[]> Tasks { get; } = new Dictionary<string, OutputKind[]>
    {
        ["segmentation"] = [OutputKind.ClassLogits],
        ["depth"] = [OutputKind.MetricDepth, OutputKind.RelativeDepth, OutputKind.InverseDepth],
        ["normals"] = [OutputKind.Normals],
        ["features"] = [OutputKind.Features],
    };

    private static readonly Dictionary<string, OutputKind> KindNames = new()
    {
        ["class_logits"] = OutputKind.ClassLogits,
        ["metric_depth"] = OutputKind.MetricDepth,
        ["relative_depth"] = OutputKind.RelativeDepth,
        ["inverse_depth"] = OutputKind.InverseDepth,
        ["normals"] = OutputKind.Normals,
        ["features"] = OutputKind.Features,
    };

    /// <summary>The model input's name; null for the model's only input.</summary>
    public string? InputName { get; init; }

    public required int Width { get; init; }

    public required int Height { get; init; }

    public required TensorLayout Layout { get; init; }

    /// <summary>True when the model takes channels in RGB order, false for BGR.</summary>
    public required bool Rgb { get; init; }

    /// <summary>Pixels (0..255) are multiplied by this before the mean is subtracted (1/255 for inputs in 0..1).</summary>
    public required float Scale { get; init; }

    /// <summary>Per channel, in the model's channel order: x = (pixel * scale - mean) / std.</summary>
    public required float[] Mean { get; init; }

    public required float[] Std { get; init; }

    /// <summary>The output's name; null for the model's first output.</summary>
    public string? OutputName { get; init; }

    public required OutputKind Kind { get; init; }

    /// <summary>
    /// An inner node output to read instead of the model's outputs (features only): the graph is cut after it and its input
    /// made any size (<see cref="Onnx.OnnxGraphEdit"/>), e.g. ResNet-18's stride-16 layer3 map.
    /// </summary>
    public string? Node { get; init; }

    /// <summary>Class names, index = class id (class logits only).</summary>
    public string[]? Classes { get; init; }

    /// <summary>Metres per output unit (metric depth only; 0.001 for a model that outputs millimetres).</summary>
    public float DepthScale { get; init; } = 1;

    /// <summary>Sign per axis bringing the model's normals to x right, y down, z forward (normals only).</summary>
    public float[] AxisSigns { get; init; } = [1, 1, 1];

    /// <summary>The spec as read, kept for the layout's teachers.json.</summary>
    public JsonElement Json { get; init; }

    /// <summary>The JSON name of <paramref name="kind"/>.</summary>
    public static string KindName(OutputKind kind) => KindNames.First(kv => kv.Value == kind).Key;

    public static TeacherSpec Load(string path)
    {
        if (!File.Exists(path))
        {
            throw new TeacherException($"teacher spec not found: {path}");
        }
        string text = File.ReadAllText(path);
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(text, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        }
        catch (JsonException e)
        {
            throw new TeacherException($"teacher spec {path}: not valid JSON ({e.Message})", e);
        }
        using (document)
        {
            return Parse(document.RootElement, path);
        }
    }

    /// <summary>Reads a spec from <paramref name="root"/>; <paramref name="path"/> names the file in errors.</summary>
    public static TeacherSpec Parse(JsonElement root, string path)
    {
        var reader = new Fields(path);
        var top = reader.Object(root, "", ["input", "output"]);
        var input = reader.Object(reader.Required(top, "", "input"), "input", ["name", "width", "height", "layout", "channels", "scale", "mean", "std"]);
        var output = reader.Object(reader.Required(top, "", "output"), "output", ["name", "kind", "classes", "depth_scale", "axes", "node"]);
        string kindName = reader.String(reader.Required(output, "output", "kind"), "output.kind");
        if (!KindNames.TryGetValue(kindName, out var kind))
        {
            throw reader.Error("output.kind", $"unknown output kind '{kindName}' (known: {string.Join(", ", KindNames.Keys)})");
        }
        var spec = new TeacherSpec
        {
            InputName = input.TryGetValue("name", out var inName) ? reader.String(inName, "input.name") : null,
            Width = reader.Int(reader.Required(input, "input", "width"), "input.width", 1, 16384),
            Height = reader.Int(reader.Required(input, "input", "height"), "input.height", 1, 16384),
            Layout = reader.Choice<TensorLayout>(reader.Required(input, "input", "layout"), "input.layout", new() { ["nchw"] = TensorLayout.Nchw, ["nhwc"] = TensorLayout.Nhwc }),
            Rgb = reader.Choice<bool>(reader.Required(input, "input", "channels"), "input.channels", new() { ["rgb"] = true, ["bgr"] = false }),
            Scale = reader.Float(reader.Required(input, "input", "scale"), "input.scale"),
            Mean = reader.Floats(reader.Required(input, "input", "mean"), "input.mean", 3),
            Std = reader.Floats(reader.Required(input, "input", "std"), "input.std", 3),
            OutputName = output.TryGetValue("name", out var outName) ? reader.String(outName, "output.name") : null,
            Kind = kind,
            Json = root.Clone(),
        };
        if (spec.Std.Any(s => s == 0))
        {
            throw reader.Error("input.std", "must not contain 0");
        }
        if (kind == OutputKind.ClassLogits)
        {
            var classes = reader.Required(output, "output", "classes");
            if (classes.ValueKind != JsonValueKind.Array || classes.GetArrayLength() is 0 or > 255)
            {
                throw reader.Error("output.classes", "must be an array of 1..255 class names (id 255 means ignore)");
            }
            spec = spec with { Classes = [.. classes.EnumerateArray().Select((c, i) => reader.String(c, $"output.classes[{i}]"))] };
        }
        else if (output.ContainsKey("classes"))
        {
            throw reader.Error("output.classes", $"applies to class_logits only, not {kindName}");
        }
        if (output.TryGetValue("depth_scale", out var depthScale))
        {
            spec = kind == OutputKind.MetricDepth
                ? spec with { DepthScale = reader.Float(depthScale, "output.depth_scale") }
                : throw reader.Error("output.depth_scale", $"applies to metric_depth only, not {kindName}");
        }
        if (output.TryGetValue("node", out var node))
        {
            spec = kind == OutputKind.Features
                ? spec with { Node = reader.String(node, "output.node") }
                : throw reader.Error("output.node", $"applies to features only, not {kindName}");
            if (spec.OutputName != null)
            {
                throw reader.Error("output.node", "name either output.name (a graph output) or output.node (an inner node's output), not both");
            }
        }
        if (output.TryGetValue("axes", out var axes))
        {
            spec = kind == OutputKind.Normals
                ? spec with { AxisSigns = reader.Floats(axes, "output.axes", 3) }
                : throw reader.Error("output.axes", $"applies to normals only, not {kindName}");
            if (spec.AxisSigns.Any(s => s is not (1 or -1)))
            {
                throw reader.Error("output.axes", "must be three signs, each 1 or -1");
            }
        }
        return spec;
    }

    /// <summary>Reads fields with messages that name the spec file and the field's path.</summary>
    private sealed class Fields(string path)
    {
        public TeacherException Error(string field, string message) => new($"teacher spec {path}: {field}: {message}");

        public Dictionary<string, JsonElement> Object(JsonElement element, string where, string[] known)
        {
            if (element.ValueKind != JsonValueKind.Object)
            {
                throw Error(where.Length == 0 ? "(top level)" : where, "must be a JSON object");
            }
            var fields = new Dictionary<string, JsonElement>();
            foreach (var property in element.EnumerateObject())
            {
                string name = where.Length == 0 ? property.Name : $"{where}.{property.Name}";
                if (!known.Contains(property.Name))
                {
                    throw Error(name, $"unknown field (known{(where.Length == 0 ? "" : " in " + where)}: {string.Join(", ", known)})");
                }
                fields[property.Name] = property.Value;
            }
            return fields;
        }

        public JsonElement Required(Dictionary<string, JsonElement> fields, string where, string name) =>
            fields.TryGetValue(name, out var value) ? value : throw Error(where.Length == 0 ? name : $"{where}.{name}", "missing required field");

        public string String(JsonElement element, string field) =>
            element.ValueKind == JsonValueKind.String && element.GetString() is { Length: > 0 } text ? text : throw Error(field, "must be a non-empty string");

        public int Int(JsonElement element, string field, int min, int max) =>
            element.ValueKind == JsonValueKind.Number && element.TryGetInt32(out int value) && value >= min && value <= max
                ? value
                : throw Error(field, $"must be a whole number in {min}..{max}");

        public float Float(JsonElement element, string field) =>
            element.ValueKind == JsonValueKind.Number && element.TryGetDouble(out double value) && double.IsFinite(value) && value != 0
                ? (float)value
                : throw Error(field, "must be a finite, non-zero number");

        public float[] Floats(JsonElement element, string field, int count)
        {
            if (element.ValueKind != JsonValueKind.Array || element.GetArrayLength() != count)
            {
                throw Error(field, $"must be an array of {count} numbers");
            }
            return [.. element.EnumerateArray().Select((e, i) => e.ValueKind == JsonValueKind.Number && double.IsFinite(e.GetDouble())
                ? (float)e.GetDouble()
                : throw Error($"{field}[{i}]", "must be a finite number"))];
        }

        public T Choice<T>(JsonElement element, string field, Dictionary<string, T> choices) =>
            element.ValueKind == JsonValueKind.String && choices.TryGetValue(element.GetString()!, out var value)
                ? value
                : throw Error(field, $"must be one of {string.Join(", ", choices.Keys)}");
    }
}
