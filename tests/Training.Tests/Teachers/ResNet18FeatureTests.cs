using OpenCvSharp;
using StreamMtl.Training.Teachers;
using StreamMtl.Training.Teachers.Onnx;

namespace StreamMtl.Training.Tests.Teachers;

/// <summary>
/// ResNet-18's layer3 (stride 16, 256 channels) as a feature teacher: the package's graph is cut after that node and its
/// 224x224 input made any size (<see cref="OnnxGraphEdit"/>), so a 320x240 frame gives the model's 20x15 token grid.
/// </summary>
public sealed class ResNet18FeatureTests : IDisposable
{
    /// <summary>The output of layer3's last ReLU in the package's CNTK export (ResNet18.onnx).</summary>
    public const string Layer3 = "ReLU347_Output_0";

    private readonly TempDirectory _dir = new();

    /// <summary>The features spec of the layer3 teacher at <paramref name="width"/> x <paramref name="height"/>.</summary>
    public static string Spec(int width = 320, int height = 240, string node = Layer3) => $$"""
        {
          "input": { "width": {{width}}, "height": {{height}}, "layout": "nchw", "channels": "bgr", "scale": 1,
                     "mean": [103.06262, 115.902885, 123.15163], "std": [1, 1, 1] },
          "output": { "kind": "features", "node": "{{node}}" }
        }
        """;

    [Fact]
    public void Layer3_is_exposed_at_320x240_with_a_stride_of_16_and_deterministic_values()
    {
        string spec = TeacherModels.WriteSpec(_dir.Path, "layer3", Spec());
        using var teacher = OnnxTeacher.Load("features", ResNet18TeacherTests.ModelPath(), spec, TeacherDevice.Cpu, threads: 1);
        using var frame = RealFrame();

        var first = teacher.Run(frame, "vtest.avi #0");
        var second = teacher.Run(frame, "vtest.avi #0");

        Assert.Equal([1L, 256, 240 / 16, 320 / 16], first.FeatureShape!);
        Assert.Equal(first.Features, second.Features);
        Assert.All(first.Features!, v => Assert.True(float.IsFinite(v) && v >= 0, $"{v}")); // after a ReLU
        Assert.True(first.Features!.Count(v => v > 0) > first.Features!.Length / 10, "a real frame excites many layer3 units");
    }

    [Fact]
    public void The_edited_graph_keeps_only_what_the_node_needs_and_is_the_same_every_time()
    {
        byte[] first = OnnxGraphEdit.ExposeNode(ResNet18TeacherTests.ModelPath(), Layer3);
        byte[] second = OnnxGraphEdit.ExposeNode(ResNet18TeacherTests.ModelPath(), Layer3);
        Assert.Equal(first, second);
        // layer4's weights (about 2/3 of ResNet-18's 11.7 M parameters) are pruned with its nodes.
        Assert.InRange(first.Length, 1_000_000, new FileInfo(ResNet18TeacherTests.ModelPath()).Length / 2);
    }

    [Fact]
    public void An_unknown_node_names_the_spec_and_the_model()
    {
        string spec = TeacherModels.WriteSpec(_dir.Path, "layer9", Spec(node: "ReLU999_Output_0"));
        string model = ResNet18TeacherTests.ModelPath();
        var error = Assert.Throws<TeacherException>(() => OnnxTeacher.Load("features", model, spec, TeacherDevice.Cpu, threads: 1));
        Assert.StartsWith($"teacher spec {spec}: output.node: {model}: no node output named 'ReLU999_Output_0'", error.Message);
    }

    [Fact]
    public void A_file_that_is_not_onnx_is_named()
    {
        string model = Path.Combine(_dir.Path, "garbage.onnx");
        File.WriteAllBytes(model, [0xff, 0xff, 0xff, 0x01, 0x02]);
        string spec = TeacherModels.WriteSpec(_dir.Path, "garbage", Spec());
        var error = Assert.Throws<TeacherException>(() => OnnxTeacher.Load("features", model, spec, TeacherDevice.Cpu, threads: 1));
        Assert.Contains($"{model}: not an ONNX model", error.Message);
    }

    private static Mat RealFrame()
    {
        using var capture = new VideoCapture(RepositoryFiles.SharedVideo("vtest.avi"));
        var frame = new Mat();
        Assert.True(capture.Read(frame) && !frame.Empty(), "vtest.avi should give a first frame");
        return frame;
    }

    public void Dispose() => _dir.Dispose();
}
