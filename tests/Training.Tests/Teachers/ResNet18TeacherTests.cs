using System.Reflection;
using StreamMtl.Ingest.Files;
using StreamMtl.Ingest.Sources;
using StreamMtl.Training.Teachers;

namespace StreamMtl.Training.Tests.Teachers;

/// <summary>
/// A real pretrained network through the teacher door: the ImageNet-trained ResNet-18 that the NuGet package
/// Microsoft.ML.DnnImageFeaturizer.ResNet18 0.24.0 (MIT) ships as ONNX (CNTK export, opset 8; a fixed 1x3x224x224 BGR input
/// minus a mean image, the pooled 512-d vector out), run on real frames of ../shared/videos/vtest.avi.
/// </summary>
public sealed class ResNet18TeacherTests : IDisposable
{
    /// <summary>The package's own preprocessing (ResNetPreprocess.onnx) subtracts a mean image; these are its per-channel means, in BGR order.</summary>
    public const string Spec = """
        {
          "input": { "width": 224, "height": 224, "layout": "nchw", "channels": "bgr", "scale": 1,
                     "mean": [103.06262, 115.902885, 123.15163], "std": [1, 1, 1] },
          "output": { "kind": "features" }
        }
        """;

    private readonly TempDirectory _dir = new();

    public static string ModelPath() =>
        typeof(ResNet18TeacherTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "ResNet18Onnx").Value!;

    [Fact]
    public async Task ResNet18_from_the_package_runs_deterministically_on_real_frames()
    {
        string model = ModelPath();
        Assert.True(File.Exists(model), $"the restored package should hold {model}");
        string spec = TeacherModels.WriteSpec(_dir.Path, "resnet18", Spec);
        using var teacher = OnnxTeacher.Load("features", model, spec, TeacherDevice.Cpu);

        var vectors = new List<float[]>();
        await using var source = new FileFrameSource(RepositoryFiles.SharedVideo("vtest.avi"), new SourceOptions { Pacing = Pacing.Batch });
        await foreach (var frame in source.ReadAsync())
        {
            using (frame)
            {
                if (frame.Index % 40 != 0)
                {
                    continue;
                }
                var first = teacher.Run(frame.Image, $"vtest.avi #{frame.Index}");
                var second = teacher.Run(frame.Image, $"vtest.avi #{frame.Index}");
                Assert.Equal([1L, 512, 1, 1], first.FeatureShape!);
                Assert.Equal(first.Features, second.Features); // bit-identical: same input, same output
                Assert.All(first.Features!, v => Assert.True(float.IsFinite(v) && v >= 0, $"{v}")); // pooled ReLU activations
                Assert.True(first.Features!.Count(v => v > 0) > 100, "most channels of a real image respond");
                vectors.Add(first.Features!);
                if (vectors.Count == 3)
                {
                    break;
                }
            }
        }
        Assert.Equal(3, vectors.Count);
        // Frames 0, 40 and 80 of a street scene: similar, not the same.
        for (int a = 0; a < 3; a++)
        {
            for (int b = a + 1; b < 3; b++)
            {
                double cosine = Cosine(vectors[a], vectors[b]);
                Assert.NotEqual(vectors[a], vectors[b]);
                Assert.InRange(cosine, 0.5, 0.9999);
            }
        }
    }

    private static double Cosine(float[] a, float[] b)
    {
        double dot = 0, na = 0, nb = 0;
        for (int i = 0; i < a.Length; i++)
        {
            dot += a[i] * b[i];
            na += a[i] * a[i];
            nb += b[i] * b[i];
        }
        return dot / Math.Sqrt(na * nb);
    }

    public void Dispose() => _dir.Dispose();
}
