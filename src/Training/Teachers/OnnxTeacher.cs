using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using OpenCvSharp;

namespace StreamMtl.Training.Teachers;

/// <summary>Where a teacher runs: CUDA when ONNX Runtime offers it (and <see cref="Auto"/> or <see cref="Cuda"/> is asked), else the CPU.</summary>
public enum TeacherDevice
{
    Auto,
    Cpu,
    Cuda,
}

/// <summary>
/// A real single-task model in ONNX, run through ONNX Runtime with the preprocessing and output reading its
/// <see cref="TeacherSpec"/> describes. Checked at load: the file is a model ONNX Runtime accepts, the spec's input
/// exists, is float32 and has the spec's shape (dynamic dimensions accept any size), and the output exists. Every run
/// rejects NaN or infinite outputs, naming the file and the frame.
/// </summary>
public sealed class OnnxTeacher : IDisposable
{
    private readonly InferenceSession _session;
    private readonly string _input;
    private readonly string _output;

    private OnnxTeacher(string task, string modelPath, string specPath, TeacherSpec spec, InferenceSession session, string input, string output, string provider)
    {
        Task = task;
        ModelPath = modelPath;
        SpecPath = specPath;
        Spec = spec;
        _session = session;
        _input = input;
        _output = output;
        Provider = provider;
    }

    /// <summary>segmentation, depth, normals or features.</summary>
    public string Task { get; }

    public string ModelPath { get; }

    public string SpecPath { get; }

    public TeacherSpec Spec { get; }

    /// <summary>The ONNX Runtime execution provider running it (CPUExecutionProvider or CUDAExecutionProvider).</summary>
    public string Provider { get; }

    /// <summary>The spec beside a model when none is named: FILE.onnx -> FILE.json.</summary>
    public static string DefaultSpecPath(string modelPath) => Path.ChangeExtension(modelPath, ".json");

    /// <summary>Loads <paramref name="modelPath"/> for <paramref name="task"/> with the spec at <paramref name="specPath"/> (default: beside the model).</summary>
    public static OnnxTeacher Load(string task, string modelPath, string? specPath = null, TeacherDevice device = TeacherDevice.Auto, int threads = 0)
    {
        if (!TeacherSpec.Tasks.TryGetValue(task, out var kinds))
        {
            throw new TeacherException($"unknown teacher task '{task}' for {modelPath} (known: {string.Join(", ", TeacherSpec.Tasks.Keys)})");
        }
        if (!File.Exists(modelPath))
        {
            throw new TeacherException($"teacher model not found: {modelPath}");
        }
        specPath ??= DefaultSpecPath(modelPath);
        var spec = TeacherSpec.Load(specPath);
        if (!kinds.Contains(spec.Kind))
        {
            throw new TeacherException($"teacher spec {specPath}: output.kind: {TeacherSpec.KindName(spec.Kind)} cannot label {task} " +
                $"(it takes {string.Join(", ", kinds.Select(TeacherSpec.KindName))})");
        }
        var (session, provider) = Open(modelPath, spec.Node, specPath, device, threads);
        try
        {
            string input = Pick(session.InputMetadata, spec.InputName, "input", modelPath, only: true);
            string output = Pick(session.OutputMetadata, spec.OutputName, "output", modelPath, only: false);
            CheckInput(session.InputMetadata[input], input, spec, modelPath, specPath);
            if (session.OutputMetadata[output].ElementDataType != TensorElementType.Float)
            {
                throw new TeacherException($"{modelPath}: output '{output}' is {session.OutputMetadata[output].ElementDataType}, a teacher's output must be float32");
            }
            return new OnnxTeacher(task, modelPath, specPath, spec, session, input, output, provider);
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    private static (InferenceSession Session, string Provider) Open(string modelPath, string? node, string specPath, TeacherDevice device, int threads)
    {
        byte[]? edited = null;
        if (node != null)
        {
            try
            {
                edited = Onnx.OnnxGraphEdit.ExposeNode(modelPath, node);
            }
            catch (TeacherException e)
            {
                throw new TeacherException($"teacher spec {specPath}: output.node: {e.Message}", e);
            }
        }
        var available = OrtEnv.Instance().GetAvailableProviders();
        bool cuda = device != TeacherDevice.Cpu && available.Contains("CUDAExecutionProvider");
        if (device == TeacherDevice.Cuda && !cuda)
        {
            throw new TeacherException($"{modelPath}: CUDA asked for, but this ONNX Runtime offers only {string.Join(", ", available)}");
        }
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
        if (threads > 0)
        {
            options.IntraOpNumThreads = threads;
        }
        if (cuda)
        {
            options.AppendExecutionProvider_CUDA(0);
        }
        try
        {
            return (edited != null ? new InferenceSession(edited, options) : new InferenceSession(modelPath, options), cuda ? "CUDAExecutionProvider" : "CPUExecutionProvider");
        }
        catch (OnnxRuntimeException e)
        {
            throw new TeacherException($"{modelPath}: not a model ONNX Runtime can load ({e.Message.Trim()})", e);
        }
    }

    private static string Pick(IReadOnlyDictionary<string, NodeMetadata> nodes, string? name, string what, string modelPath, bool only)
    {
        if (name != null)
        {
            return nodes.ContainsKey(name) ? name
                : throw new TeacherException($"{modelPath}: no {what} named '{name}' (the model's {what}s: {string.Join(", ", nodes.Keys)})");
        }
        if (nodes.Count == 0 || (only && nodes.Count > 1))
        {
            throw new TeacherException($"{modelPath}: the model has {nodes.Count} {what}s ({string.Join(", ", nodes.Keys)}); name one in the spec's {what}.name");
        }
        return nodes.Keys.First();
    }

    private static void CheckInput(NodeMetadata input, string name, TeacherSpec spec, string modelPath, string specPath)
    {
        if (input.ElementDataType != TensorElementType.Float)
        {
            throw new TeacherException($"{modelPath}: input '{name}' is {input.ElementDataType}, a teacher's input must be float32");
        }
        int[] expected = Shape(spec);
        int[] actual = input.Dimensions;
        bool matches = actual.Length == 4 && actual.Zip(expected).All(d => d.First < 0 || d.First == d.Second);
        if (!matches)
        {
            throw new TeacherException($"{modelPath}: input '{name}' has shape {Describe(actual)}, but the spec {specPath} describes " +
                $"{Describe(expected)} ({spec.Layout.ToString().ToUpperInvariant()}, {spec.Width}x{spec.Height}); expected {Describe(expected)}, actual {Describe(actual)}");
        }
    }

    private static int[] Shape(TeacherSpec spec) =>
        spec.Layout == TensorLayout.Nchw ? [1, 3, spec.Height, spec.Width] : [1, spec.Height, spec.Width, 3];

    private static string Describe(IEnumerable<long> shape) => "[" + string.Join(",", shape.Select(d => d < 0 ? "?" : d.ToString(System.Globalization.CultureInfo.InvariantCulture))) + "]";

    private static string Describe(IEnumerable<int> shape) => Describe(shape.Select(d => (long)d));

    /// <summary>
    /// Runs the teacher on one BGR8 frame; <paramref name="frame"/> names it in errors. Dense outputs come back at the frame's
    /// size (class scores and depth bilinearly resized, labels the argmax of the resized scores, normals renormalised).
    /// </summary>
    public TeacherOutput Run(Mat bgr, string frame, bool soft = false)
    {
        if (bgr.Empty() || bgr.Type() != MatType.CV_8UC3)
        {
            throw new ArgumentException($"a BGR8 frame is needed, got {bgr.Type()}", nameof(bgr));
        }
        float[] input = Preprocess(bgr);
        using var value = OrtValue.CreateTensorValueFromMemory(input, [.. Shape(Spec).Select(d => (long)d)]);
        using var runOptions = new RunOptions();
        using var outputs = _session.Run(runOptions, [_input], [value], [_output]);
        var result = outputs[0];
        long[] shape = result.GetTensorTypeAndShape().Shape;
        float[] data = result.GetTensorDataAsSpan<float>().ToArray();
        int bad = Array.FindIndex(data, v => !float.IsFinite(v));
        if (bad >= 0)
        {
            throw new TeacherException($"{ModelPath}: output '{_output}' has a non-finite value ({data[bad]}) at element {bad} of {Describe(shape)} on frame {frame}");
        }
        return Read(data, shape, bgr.Width, bgr.Height, frame, soft);
    }

    /// <summary>The model's input tensor for a BGR8 frame: resized to the spec's size, channels in its order, (p * scale - mean) / std, in its layout.</summary>
    internal unsafe float[] Preprocess(Mat bgr)
    {
        int w = Spec.Width, h = Spec.Height;
        using var resized = new Mat();
        var source = bgr;
        if (bgr.Width != w || bgr.Height != h)
        {
            Cv2.Resize(bgr, resized, new Size(w, h), 0, 0, bgr.Width > w && bgr.Height > h ? InterpolationFlags.Area : InterpolationFlags.Linear);
            source = resized;
        }
        using var continuous = source.IsContinuous() ? null : source.Clone();
        var pixels = new ReadOnlySpan<byte>((void*)(continuous ?? source).Data, w * h * 3);
        var tensor = new float[3 * w * h];
        Span<int> from = Spec.Rgb ? [2, 1, 0] : [0, 1, 2]; // model channel c reads BGR byte from[c]
        int plane = w * h;
        for (int i = 0; i < plane; i++)
        {
            for (int c = 0; c < 3; c++)
            {
                float x = (pixels[3 * i + from[c]] * Spec.Scale - Spec.Mean[c]) / Spec.Std[c];
                if (Spec.Layout == TensorLayout.Nchw)
                {
                    tensor[c * plane + i] = x;
                }
                else
                {
                    tensor[3 * i + c] = x;
                }
            }
        }
        return tensor;
    }

    private TeacherOutput Read(float[] data, long[] shape, int width, int height, string frame, bool soft)
    {
        var output = new TeacherOutput(Spec.Kind, width, height);
        switch (Spec.Kind)
        {
            case OutputKind.Features:
                return output with { Features = data, FeatureShape = shape };
            case OutputKind.ClassLogits:
            {
                var (c, h, w) = Dense(shape, Spec.Classes!.Length, frame);
                var scores = Planes.Resize(data, c, w, h, width, height, InterpolationFlags.Linear);
                return output with { Labels = Argmax(scores, c, width * height), Probabilities = soft ? Softmax(scores, c, width * height) : null };
            }
            case OutputKind.Normals:
            {
                var (c, h, w) = Dense(shape, 3, frame);
                var planes = Planes.Resize(data, c, w, h, width, height, InterpolationFlags.Linear);
                return output with { Normals = UnitNormals(planes, width * height, Spec.AxisSigns) };
            }
            default:
            {
                var (c, h, w) = Dense(shape, 1, frame);
                var depth = Planes.Resize(data, c, w, h, width, height, InterpolationFlags.Linear);
                if (Spec.Kind == OutputKind.MetricDepth && Spec.DepthScale != 1)
                {
                    for (int i = 0; i < depth.Length; i++)
                    {
                        depth[i] *= Spec.DepthScale;
                    }
                }
                return output with { Depth = depth };
            }
        }
    }

    /// <summary>(C, H, W) of a dense output: [1,C,H,W], or [1,H,W] when one channel is expected.</summary>
    private (int C, int H, int W) Dense(long[] shape, int channels, string frame)
    {
        if (shape.Length == 4 && shape[0] == 1 && shape[1] == channels)
        {
            return (channels, (int)shape[2], (int)shape[3]);
        }
        if (channels == 1 && shape.Length == 3 && shape[0] == 1)
        {
            return (1, (int)shape[1], (int)shape[2]);
        }
        string expected = channels == 1 ? "[1,1,H,W] or [1,H,W]" : $"[1,{channels},H,W]";
        throw new TeacherException($"{ModelPath}: output '{_output}' has shape {Describe(shape)} on frame {frame}; a {TeacherSpec.KindName(Spec.Kind)} output " +
            $"must be {expected}{(Spec.Kind == OutputKind.ClassLogits ? $" with C = the spec's {channels} classes" : "")}");
    }

    /// <summary>The index of the largest of <paramref name="classes"/> planar scores per pixel (the first on a tie).</summary>
    internal static byte[] Argmax(float[] scores, int classes, int pixels)
    {
        var labels = new byte[pixels];
        for (int i = 0; i < pixels; i++)
        {
            int best = 0;
            float top = scores[i];
            for (int c = 1; c < classes; c++)
            {
                if (scores[c * pixels + i] > top)
                {
                    top = scores[c * pixels + i];
                    best = c;
                }
            }
            labels[i] = (byte)best;
        }
        return labels;
    }

    private static float[] Softmax(float[] scores, int classes, int pixels)
    {
        var probabilities = new float[scores.Length];
        for (int i = 0; i < pixels; i++)
        {
            float max = float.NegativeInfinity;
            for (int c = 0; c < classes; c++)
            {
                max = Math.Max(max, scores[c * pixels + i]);
            }
            float sum = 0;
            for (int c = 0; c < classes; c++)
            {
                sum += probabilities[c * pixels + i] = MathF.Exp(scores[c * pixels + i] - max);
            }
            for (int c = 0; c < classes; c++)
            {
                probabilities[c * pixels + i] /= sum;
            }
        }
        return probabilities;
    }

    private static float[] UnitNormals(float[] planes, int pixels, float[] signs)
    {
        var normals = new float[3 * pixels];
        for (int i = 0; i < pixels; i++)
        {
            float x = planes[i] * signs[0], y = planes[pixels + i] * signs[1], z = planes[2 * pixels + i] * signs[2];
            float length = MathF.Sqrt(x * x + y * y + z * z);
            if (length > 1e-12f)
            {
                normals[3 * i] = x / length;
                normals[3 * i + 1] = y / length;
                normals[3 * i + 2] = z / length;
            }
        }
        return normals;
    }

    public void Dispose() => _session.Dispose();
}
