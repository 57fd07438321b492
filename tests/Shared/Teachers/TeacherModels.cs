using System.Diagnostics;

namespace StreamMtl.Tests.Shared;

/// <summary>
/// Tiny ONNX teachers with known weights, built once per test process by make_teachers.py with Debian's python3-onnx
/// (scripts/install-deps.sh test), and the specs that describe them. The weights here are the script's.
/// </summary>
internal static class TeacherModels
{
    public const int Width = 64;
    public const int Height = 48;

    public static readonly float[,] SegWeights = { { 2.0f, -1.0f, 0.5f }, { -1.5f, 2.5f, -0.5f }, { 0.25f, -0.75f, 1.75f } };
    public static readonly float[] SegBias = [0.1f, -0.2f, 0.05f];
    public static readonly string[] Classes = ["floor", "wall", "box"];

    /// <summary>The segmentation models' normalisation: x = (p / 255 - mean) / std, RGB order.</summary>
    public static readonly float[] Mean = [0.5f, 0.4f, 0.3f];
    public static readonly float[] Std = [0.25f, 0.5f, 1.0f];

    private static readonly Lazy<string> Built = new(Build);

    /// <summary>The folder holding the generated models (seg3, seg3_nhwc_bgr, seg3_dynamic, seg3_32x32, seg3_nan, depth, position_depth, normals, features).</summary>
    public static string Directory => Built.Value;

    public static string Model(string name) => Path.Combine(Directory, name + ".onnx");

    /// <summary>A class-logits spec for the segmentation models, NCHW RGB unless told.</summary>
    public static string SegmentationSpec(string layout = "nchw", string channels = "rgb", int width = Width, int height = Height)
    {
        float[] mean = channels == "rgb" ? Mean : [.. Mean.Reverse()];
        float[] std = channels == "rgb" ? Std : [.. Std.Reverse()];
        return $$"""
            {
              "input": { "width": {{width}}, "height": {{height}}, "layout": "{{layout}}", "channels": "{{channels}}", "scale": 0.00392156862745098,
                         "mean": [{{string.Join(", ", mean)}}], "std": [{{string.Join(", ", std)}}] },
              "output": { "kind": "class_logits", "classes": ["floor", "wall", "box"] }
            }
            """;
    }

    /// <summary>A spec for a dense non-class output (depth, normals, features) over inputs in 0..1.</summary>
    public static string PlainSpec(string kind, string extra = "") => $$"""
        {
          "input": { "width": {{Width}}, "height": {{Height}}, "layout": "nchw", "channels": "rgb", "scale": 0.00392156862745098,
                     "mean": [0, 0, 0], "std": [1, 1, 1] },
          "output": { "kind": "{{kind}}"{{extra}} }
        }
        """;

    /// <summary>Writes <paramref name="json"/> as a spec file in <paramref name="directory"/> and returns its path.</summary>
    public static string WriteSpec(string directory, string name, string json)
    {
        string path = Path.Combine(directory, name + ".json");
        File.WriteAllText(path, json);
        return path;
    }

    private static string Build()
    {
        string directory = System.IO.Directory.CreateTempSubdirectory("streammtl-teachers-").FullName;
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try
            {
                System.IO.Directory.Delete(directory, recursive: true);
            }
            catch (IOException)
            {
                // The OS temp cleaner takes what is left.
            }
        };
        string script = Path.Combine(AppContext.BaseDirectory, "Teachers", "make_teachers.py");
        var start = new ProcessStartInfo("/usr/bin/python3", [script, directory]) { RedirectStandardError = true, RedirectStandardOutput = true };
        using var python = Process.Start(start)!;
        string errors = python.StandardError.ReadToEnd();
        python.StandardOutput.ReadToEnd();
        if (!python.WaitForExit(TimeSpan.FromSeconds(60)) || python.ExitCode != 0)
        {
            throw new InvalidOperationException($"make_teachers.py failed (needs python3-onnx: scripts/install-deps.sh test):\n{errors}");
        }
        return directory;
    }
}
