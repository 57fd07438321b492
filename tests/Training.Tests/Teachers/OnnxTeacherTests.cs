using OpenCvSharp;
using StreamMtl.Training.Teachers;

namespace StreamMtl.Training.Tests.Teachers;

/// <summary>Tiny ONNX teachers with known weights (built by make_teachers.py with python3-onnx) run through ONNX Runtime.</summary>
public sealed class OnnxTeacherTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    [Fact]
    public void Segmentation_labels_are_the_argmax_of_the_known_weights_computed_independently()
    {
        using var teacher = Load("segmentation", "seg3", TeacherModels.SegmentationSpec());
        using var frame = Frame(seed: 1);
        var output = teacher.Run(frame, "frame 1");

        var (expected, nearTies) = ExpectedLabels(frame);
        Assert.Equal((TeacherModels.Width, TeacherModels.Height), (output.Width, output.Height));
        var labels = output.Labels!;
        int differing = Enumerable.Range(0, labels.Length).Count(i => labels[i] != expected[i] && !nearTies[i]);
        Assert.Equal(0, differing);
        Assert.True(nearTies.Count(t => t) < 10, "the test frame should have almost no near-ties");
        Assert.Equal(3, labels.Distinct().Count()); // the weights and the frame exercise every class
        Assert.Equal("CPUExecutionProvider", teacher.Provider);
    }

    [Fact]
    public void Nhwc_and_bgr_inputs_are_fed_as_the_spec_says()
    {
        using var nchw = Load("segmentation", "seg3", TeacherModels.SegmentationSpec());
        using var nhwc = Load("segmentation", "seg3_nhwc_bgr", TeacherModels.SegmentationSpec("nhwc", "bgr"));
        using var frame = Frame(seed: 2);
        var (_, nearTies) = ExpectedLabels(frame);
        var a = nchw.Run(frame, "f").Labels!;
        var b = nhwc.Run(frame, "f").Labels!;
        Assert.Equal(0, Enumerable.Range(0, a.Length).Count(i => a[i] != b[i] && !nearTies[i]));
    }

    [Fact]
    public void Frames_of_another_size_are_resized_in_and_the_labels_come_back_at_the_frame_size()
    {
        using var teacher = Load("segmentation", "seg3_dynamic", TeacherModels.SegmentationSpec(width: 32, height: 24));
        using var frame = Frame(seed: 3, width: 80, height: 60);
        var output = teacher.Run(frame, "f", soft: true);
        Assert.Equal(80 * 60, output.Labels!.Length);
        var p = output.Probabilities!;
        Assert.Equal(3 * 80 * 60, p.Length);
        for (int i = 0; i < 80 * 60; i += 97)
        {
            Assert.Equal(1f, p[i] + p[4800 + i] + p[9600 + i], 4);
            int argmax = p[i] >= p[4800 + i] && p[i] >= p[9600 + i] ? 0 : p[4800 + i] >= p[9600 + i] ? 1 : 2;
            Assert.Equal(argmax, output.Labels[i]);
        }
    }

    [Fact]
    public void Metric_depth_is_the_known_linear_map_in_metres()
    {
        using var teacher = Load("depth", "depth", TeacherModels.PlainSpec("metric_depth"));
        using var frame = Frame(seed: 4);
        var depth = teacher.Run(frame, "f").Depth!;
        var bytes = Bytes(frame);
        for (int i = 0; i < depth.Length; i++)
        {
            float expected = 0.5f * (bytes[3 * i] + bytes[3 * i + 1] + bytes[3 * i + 2]) / 255f + 0.25f;
            Assert.Equal(expected, depth[i], 4);
        }
    }

    [Fact]
    public void Normals_are_unit_vectors_with_the_spec_axis_signs()
    {
        using var plain = Load("normals", "normals", TeacherModels.PlainSpec("normals"));
        using var flipped = Load("normals", "normals", TeacherModels.PlainSpec("normals", ", \"axes\": [1, -1, -1]"), name: "normals-flipped");
        using var frame = Frame(seed: 5);
        var a = plain.Run(frame, "f").Normals!;
        var b = flipped.Run(frame, "f").Normals!;
        for (int i = 0; i < a.Length; i += 3)
        {
            Assert.Equal(1f, MathF.Sqrt(a[i] * a[i] + a[i + 1] * a[i + 1] + a[i + 2] * a[i + 2]), 4);
            Assert.Equal((a[i], -a[i + 1], -a[i + 2]), (b[i], b[i + 1], b[i + 2]));
        }
    }

    [Fact]
    public void Features_keep_the_model_shape()
    {
        using var teacher = Load("features", "features", TeacherModels.PlainSpec("features"));
        using var frame = Frame(seed: 6);
        var output = teacher.Run(frame, "f");
        Assert.Equal([1L, 3, 1, 1], output.FeatureShape!);
        var bytes = Bytes(frame);
        double meanRed = Enumerable.Range(0, TeacherModels.Width * TeacherModels.Height).Average(i => bytes[3 * i + 2] / 255.0);
        Assert.Equal(meanRed, output.Features![0], 4);
    }

    [Fact]
    public void A_wrong_input_shape_is_refused_at_load_with_expected_and_actual()
    {
        string model = TeacherModels.Model("seg3_32x32");
        var error = Assert.Throws<TeacherException>(() => Load("segmentation", "seg3_32x32", TeacherModels.SegmentationSpec()));
        Assert.Contains(model, error.Message, StringComparison.Ordinal);
        Assert.Contains("expected [1,3,48,64], actual [1,3,32,32]", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_nan_output_is_refused_naming_the_file_and_the_frame()
    {
        using var teacher = Load("segmentation", "seg3_nan", TeacherModels.SegmentationSpec());
        using var frame = Frame(seed: 7);
        var error = Assert.Throws<TeacherException>(() => teacher.Run(frame, "clip.mp4 #42"));
        Assert.Contains(TeacherModels.Model("seg3_nan"), error.Message, StringComparison.Ordinal);
        Assert.Contains("non-finite value (NaN)", error.Message, StringComparison.Ordinal);
        Assert.Contains("on frame clip.mp4 #42", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_file_that_is_not_onnx_is_refused_naming_it()
    {
        string model = _dir.File("random.onnx");
        var bytes = new byte[4096];
        new Random(11).NextBytes(bytes);
        File.WriteAllBytes(model, bytes);
        TeacherModels.WriteSpec(_dir.Path, "random", TeacherModels.SegmentationSpec());
        var error = Assert.Throws<TeacherException>(() => OnnxTeacher.Load("segmentation", model));
        Assert.StartsWith($"{model}: not a model ONNX Runtime can load", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_model_or_spec_is_refused_naming_it()
    {
        string missing = _dir.File("missing.onnx");
        Assert.Equal($"teacher model not found: {missing}", Assert.Throws<TeacherException>(() => OnnxTeacher.Load("segmentation", missing)).Message);
        string model = _dir.File("seg3.onnx");
        File.Copy(TeacherModels.Model("seg3"), model);
        Assert.Equal($"teacher spec not found: {_dir.File("seg3.json")}", Assert.Throws<TeacherException>(() => OnnxTeacher.Load("segmentation", model)).Message);
    }

    [Fact]
    public void A_spec_whose_kind_cannot_label_the_task_is_refused()
    {
        var error = Assert.Throws<TeacherException>(() => Load("depth", "seg3", TeacherModels.SegmentationSpec()));
        Assert.Contains("output.kind: class_logits cannot label depth (it takes metric_depth, relative_depth, inverse_depth)", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_class_count_that_differs_from_the_output_is_refused_naming_the_file()
    {
        string spec = TeacherModels.SegmentationSpec().Replace("[\"floor\", \"wall\", \"box\"]", "[\"floor\", \"wall\"]", StringComparison.Ordinal);
        using var teacher = Load("segmentation", "seg3", spec);
        using var frame = Frame(seed: 8);
        var error = Assert.Throws<TeacherException>(() => teacher.Run(frame, "f"));
        Assert.Contains($"{TeacherModels.Model("seg3")}: output 'logits' has shape [1,3,48,64]", error.Message, StringComparison.Ordinal);
        Assert.Contains("with C = the spec's 2 classes", error.Message, StringComparison.Ordinal);
    }

    /// <summary>Loads a generated model with <paramref name="spec"/> written beside it in the test's directory.</summary>
    private OnnxTeacher Load(string task, string model, string spec, string? name = null)
    {
        string specPath = TeacherModels.WriteSpec(_dir.Path, name ?? model, spec);
        return OnnxTeacher.Load(task, TeacherModels.Model(model), specPath, TeacherDevice.Cpu);
    }

    /// <summary>A deterministic noisy BGR frame.</summary>
    internal static Mat Frame(int seed, int width = TeacherModels.Width, int height = TeacherModels.Height)
    {
        var bytes = new byte[width * height * 3];
        new Random(seed).NextBytes(bytes);
        var frame = new Mat(height, width, MatType.CV_8UC3);
        System.Runtime.InteropServices.Marshal.Copy(bytes, 0, frame.Data, bytes.Length);
        return frame;
    }

    private static byte[] Bytes(Mat frame)
    {
        var bytes = new byte[frame.Width * frame.Height * 3];
        System.Runtime.InteropServices.Marshal.Copy(frame.Data, bytes, 0, bytes.Length);
        return bytes;
    }

    /// <summary>The 1x1 convolution and argmax in plain C#, and where its top two logits are within 1e-4 (a tie either way).</summary>
    private static (byte[] Labels, bool[] NearTies) ExpectedLabels(Mat frame)
    {
        var bytes = Bytes(frame);
        int pixels = frame.Width * frame.Height;
        var labels = new byte[pixels];
        var ties = new bool[pixels];
        for (int i = 0; i < pixels; i++)
        {
            // RGB order: the frame is BGR.
            double[] x = [.. Enumerable.Range(0, 3).Select(c => (bytes[3 * i + 2 - c] / 255.0 - TeacherModels.Mean[c]) / TeacherModels.Std[c])];
            double[] logits = [.. Enumerable.Range(0, 3).Select(k => TeacherModels.SegBias[k] + Enumerable.Range(0, 3).Sum(c => TeacherModels.SegWeights[k, c] * x[c]))];
            var order = Enumerable.Range(0, 3).OrderByDescending(k => logits[k]).ToArray();
            labels[i] = (byte)order[0];
            ties[i] = logits[order[0]] - logits[order[1]] < 1e-4;
        }
        return (labels, ties);
    }

    public void Dispose() => _dir.Dispose();
}
