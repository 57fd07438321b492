using StreamMtl.Training.Teachers;

namespace StreamMtl.Training.Tests.Teachers;

/// <summary>The teacher spec is strict: what is missing, unknown or malformed is an error naming the file and the field.</summary>
public sealed class TeacherSpecTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    [Fact]
    public void A_full_spec_reads()
    {
        var spec = TeacherSpec.Load(Write(TeacherModels.SegmentationSpec("nhwc", "bgr", 320, 240)));
        Assert.Equal((320, 240, TensorLayout.Nhwc, false), (spec.Width, spec.Height, spec.Layout, spec.Rgb));
        Assert.Equal(OutputKind.ClassLogits, spec.Kind);
        Assert.Equal(TeacherModels.Classes, spec.Classes);
        Assert.Equal(1 / 255f, spec.Scale, 6);
        Assert.Equal([0.3f, 0.4f, 0.5f], spec.Mean);
    }

    [Theory]
    [InlineData("\"width\": 64, ", "input.width: missing required field")]
    [InlineData(", \"std\": [0.25, 0.5, 1]", "input.std: missing required field")]
    [InlineData(", \"classes\": [\"floor\", \"wall\", \"box\"]", "output.classes: missing required field")]
    public void A_missing_field_is_named(string removed, string message)
    {
        string json = Spec().Replace(removed, "", StringComparison.Ordinal);
        Assert.NotEqual(Spec(), json);
        string path = Write(json);
        Assert.Equal($"teacher spec {path}: {message}", Assert.Throws<TeacherException>(() => TeacherSpec.Load(path)).Message);
    }

    [Fact]
    public void A_missing_section_is_named()
    {
        string path = Write("""{ "input": { "width": 1 } }""");
        Assert.Equal($"teacher spec {path}: output: missing required field", Assert.Throws<TeacherException>(() => TeacherSpec.Load(path)).Message);
        path = Write("""{ }""");
        Assert.Equal($"teacher spec {path}: input: missing required field", Assert.Throws<TeacherException>(() => TeacherSpec.Load(path)).Message);
    }

    [Fact]
    public void An_unknown_output_kind_is_named_with_the_known_ones()
    {
        string path = Write(Spec().Replace("\"class_logits\"", "\"semantic\"", StringComparison.Ordinal));
        Assert.Equal($"teacher spec {path}: output.kind: unknown output kind 'semantic' (known: class_logits, metric_depth, relative_depth, inverse_depth, normals, features)",
            Assert.Throws<TeacherException>(() => TeacherSpec.Load(path)).Message);
    }

    [Theory]
    [InlineData("\"layout\": \"nchw\"", "\"layout\": \"chw\"", "input.layout: must be one of nchw, nhwc")]
    [InlineData("\"channels\": \"rgb\"", "\"channels\": \"rgba\"", "input.channels: must be one of rgb, bgr")]
    [InlineData("\"width\": 64", "\"width\": 64, \"resize\": \"area\"", "input.resize: unknown field (known in input: name, width, height, layout, channels, scale, mean, std)")]
    [InlineData("\"width\": 64", "\"width\": \"64\"", "input.width: must be a whole number in 1..16384")]
    [InlineData("\"mean\": [0.5, 0.4, 0.3]", "\"mean\": [0.5, 0.4]", "input.mean: must be an array of 3 numbers")]
    [InlineData("\"std\": [0.25, 0.5, 1]", "\"std\": [0.25, 0, 1]", "input.std: must not contain 0")]
    public void A_malformed_field_is_named(string from, string to, string message)
    {
        string json = Spec().Replace(from, to, StringComparison.Ordinal);
        Assert.NotEqual(Spec(), json);
        string path = Write(json);
        Assert.Equal($"teacher spec {path}: {message}", Assert.Throws<TeacherException>(() => TeacherSpec.Load(path)).Message);
    }

    [Fact]
    public void Fields_of_another_kind_and_broken_json_are_refused()
    {
        string path = Write(TeacherModels.PlainSpec("relative_depth", ", \"depth_scale\": 0.001"));
        Assert.Equal($"teacher spec {path}: output.depth_scale: applies to metric_depth only, not relative_depth",
            Assert.Throws<TeacherException>(() => TeacherSpec.Load(path)).Message);
        path = Write("{ \"input\": ");
        Assert.StartsWith($"teacher spec {path}: not valid JSON", Assert.Throws<TeacherException>(() => TeacherSpec.Load(path)).Message, StringComparison.Ordinal);
    }

    private static string Spec() => TeacherModels.SegmentationSpec();

    private string Write(string json) => TeacherModels.WriteSpec(_dir.Path, $"spec-{Guid.NewGuid():N}", json);

    [Fact]
    public void A_features_spec_may_name_an_inner_node()
    {
        var spec = TeacherSpec.Load(Write(TeacherModels.PlainSpec("features", ", \"node\": \"ReLU347_Output_0\"")));
        Assert.Equal((OutputKind.Features, "ReLU347_Output_0"), (spec.Kind, spec.Node));
        Assert.Null(TeacherSpec.Load(Write(TeacherModels.PlainSpec("features"))).Node);
    }

    [Theory]
    [InlineData("metric_depth", ", \"node\": \"x\"", "output.node: applies to features only, not metric_depth")]
    [InlineData("features", ", \"node\": \"\"", "output.node: must be a non-empty string")]
    [InlineData("features", ", \"node\": 3", "output.node: must be a non-empty string")]
    [InlineData("features", ", \"node\": \"x\", \"name\": \"y\"", "output.node: name either output.name (a graph output) or output.node (an inner node's output), not both")]
    public void A_bad_node_is_named(string kind, string extra, string message)
    {
        string path = Write(TeacherModels.PlainSpec(kind, extra));
        Assert.Equal($"teacher spec {path}: {message}", Assert.Throws<TeacherException>(() => TeacherSpec.Load(path)).Message);
    }

    public void Dispose() => _dir.Dispose();
}
