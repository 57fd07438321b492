using System.Text.Json;
using OpenCvSharp;
using StreamMtl.Training.Teachers;

namespace StreamMtl.Training.Tests.Teachers;

/// <summary>Teachers over a directory of images, written as the folder layout of docs/datasets.md.</summary>
public sealed class LabelerTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    [Fact]
    public async Task A_directory_of_images_is_labelled_into_the_layout()
    {
        string images = Directory.CreateDirectory(_dir.File("frames")).FullName;
        for (int i = 0; i < 5; i++)
        {
            using var frame = OnnxTeacherTests.Frame(seed: 20 + i);
            Cv2.ImWrite(Path.Combine(images, $"shot-{i}.png"), frame);
        }
        File.WriteAllText(Path.Combine(images, "notes.txt"), "not an image");
        using var segmentation = OnnxTeacher.Load("segmentation", TeacherModels.Model("seg3"),
            TeacherModels.WriteSpec(_dir.Path, "seg", TeacherModels.SegmentationSpec()), TeacherDevice.Cpu);
        using var depth = OnnxTeacher.Load("depth", TeacherModels.Model("depth"),
            TeacherModels.WriteSpec(_dir.Path, "depth", TeacherModels.PlainSpec("metric_depth")), TeacherDevice.Cpu);
        using var normals = OnnxTeacher.Load("normals", TeacherModels.Model("normals"),
            TeacherModels.WriteSpec(_dir.Path, "normals", TeacherModels.PlainSpec("normals")), TeacherDevice.Cpu);
        string output = _dir.File("layout");

        var report = await Labeler.RunAsync(new LabelOptions { Source = images, OutputDirectory = output, Every = 2, Soft = true },
            [segmentation, depth, normals]);

        Assert.Equal((3, 5L, false), (report.Samples, report.FramesRead, report.Interrupted));
        string[] ids = ["000000", "000002", "000004"];
        Assert.Equal(ids.Select(id => $"{id}.png"), Names(output, "images"));
        Assert.Equal(ids.Select(id => $"{id}.png"), Names(output, "segmentation"));
        Assert.Equal(ids.Select(id => $"{id}.png"), Names(output, "depth"));
        Assert.Equal(ids.Select(id => $"{id}.png"), Names(output, "normals"));
        Assert.Equal(ids.Select(id => $"{id}.npy"), Names(output, Path.Combine("soft", "segmentation")));

        using (var source = Cv2.ImRead(Path.Combine(images, "shot-2.png")))
        using (var stored = Cv2.ImRead(Path.Combine(output, "images", "000002.png")))
        {
            Assert.Equal(0, Cv2.Norm(source, stored, NormTypes.L1)); // PNG: the frame as read
            var expected = segmentation.Run(source, "shot-2.png", soft: true);
            using var labels = Cv2.ImRead(Path.Combine(output, "segmentation", "000002.png"), ImreadModes.Unchanged);
            Assert.Equal(MatType.CV_8UC1, labels.Type());
            labels.GetArray(out byte[] written);
            Assert.Equal(expected.Labels, written);
            var (probabilities, shape) = Npy.Read(Path.Combine(output, "soft", "segmentation", "000002.npy"));
            Assert.Equal([3L, TeacherModels.Height, TeacherModels.Width], shape);
            Assert.All(probabilities.Zip(expected.Probabilities!), p => Assert.InRange(p.First - p.Second, -1e-3f, 1e-3f)); // float16

            var unit = normals.Run(source, "shot-2.png").Normals!;
            using var packed = Cv2.ImRead(Path.Combine(output, "normals", "000002.png"), ImreadModes.Color);
            packed.GetArray(out Vec3b[] rgb);
            for (int i = 0; i < rgb.Length; i++)
            {
                // RGB = (n + 1) / 2 * 255, stored BGR.
                Assert.InRange(rgb[i].Item2 / 127.5f - 1 - unit[3 * i], -0.005f, 0.005f);
                Assert.InRange(rgb[i].Item1 / 127.5f - 1 - unit[3 * i + 1], -0.005f, 0.005f);
                Assert.InRange(rgb[i].Item0 / 127.5f - 1 - unit[3 * i + 2], -0.005f, 0.005f);
            }

            var metres = depth.Run(source, "shot-2.png").Depth!;
            using var millimetres = Cv2.ImRead(Path.Combine(output, "depth", "000002.png"), ImreadModes.Unchanged);
            Assert.Equal(MatType.CV_16UC1, millimetres.Type());
            millimetres.GetArray(out ushort[] mm);
            Assert.All(mm.Zip(metres), p => Assert.InRange(p.First, p.Second * 1000 - 0.5001, p.Second * 1000 + 0.5001));
        }

        using var classes = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "classes.json")));
        Assert.Equal(TeacherModels.Classes, classes.RootElement.GetProperty("classes").EnumerateArray().Select(c => c.GetString()));
        Assert.Equal(255, classes.RootElement.GetProperty("ignore").GetInt32());
        using var manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "teachers.json")));
        var root = manifest.RootElement;
        Assert.Equal(FolderLayout.Format, root.GetProperty("format").GetString());
        Assert.Equal(["segmentation", "depth", "normals"], root.GetProperty("teachers").EnumerateArray().Select(t => t.GetProperty("task").GetString()));
        Assert.Equal("metric_depth", root.GetProperty("teachers")[1].GetProperty("kind").GetString());
        Assert.Equal(64, root.GetProperty("teachers")[0].GetProperty("model_sha256").GetString()!.Length);
        Assert.Equal(["shot-0.png", "shot-2.png", "shot-4.png"], root.GetProperty("samples").EnumerateArray().Select(s => s.GetProperty("file").GetString()));

        var again = await Assert.ThrowsAsync<IOException>(() => Labeler.RunAsync(new LabelOptions { Source = images, OutputDirectory = output }, [segmentation]));
        Assert.Contains("is not empty", again.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("relative_depth")]
    [InlineData("inverse_depth")]
    public async Task Relative_and_inverse_depth_are_stored_as_given_in_float32(string kind)
    {
        string images = Directory.CreateDirectory(_dir.File("frames")).FullName;
        using (var frame = OnnxTeacherTests.Frame(seed: 30))
        {
            Cv2.ImWrite(Path.Combine(images, "a.png"), frame);
        }
        using var depth = OnnxTeacher.Load("depth", TeacherModels.Model("depth"),
            TeacherModels.WriteSpec(_dir.Path, "depth", TeacherModels.PlainSpec(kind)), TeacherDevice.Cpu);
        string output = _dir.File("layout");
        await Labeler.RunAsync(new LabelOptions { Source = images, OutputDirectory = output }, [depth]);

        using var source = Cv2.ImRead(Path.Combine(images, "a.png"));
        var (values, shape) = Npy.Read(Path.Combine(output, "depth", "000000.npy"));
        Assert.Equal([(long)TeacherModels.Height, TeacherModels.Width], shape);
        Assert.Equal(depth.Run(source, "a.png").Depth, values);
        Assert.False(File.Exists(Path.Combine(output, "classes.json")));
        using var manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "teachers.json")));
        Assert.Equal(kind, manifest.RootElement.GetProperty("teachers")[0].GetProperty("kind").GetString());
    }

    [Fact]
    public async Task An_interrupted_run_keeps_what_it_wrote_and_lists_it_in_teachers_json()
    {
        using var segmentation = OnnxTeacher.Load("segmentation", TeacherModels.Model("seg3"),
            TeacherModels.WriteSpec(_dir.Path, "seg", TeacherModels.SegmentationSpec()), TeacherDevice.Cpu);
        string output = _dir.File("layout");
        using var stop = new CancellationTokenSource();
        int logged = 0;
        // An endless synthetic camera; stopped once 50 samples are written (the progress line comes every 50).
        var report = await Labeler.RunAsync(new LabelOptions { Source = "synthetic://static?seed=5&w=64&h=48", OutputDirectory = output },
            [segmentation], _ => { logged++; stop.Cancel(); }, stop.Token);

        Assert.True(report.Interrupted);
        Assert.Equal(1, logged);
        Assert.Equal(50, report.Samples);
        Assert.Equal(50, Directory.GetFiles(Path.Combine(output, "segmentation")).Length);
        using var manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "teachers.json")));
        Assert.Equal(50, manifest.RootElement.GetProperty("samples").GetArrayLength());
        Assert.Equal("synthetic://static?seed=5&w=64&h=48&fps=15&noise=2&objects=6&truth=1&realtime=0", manifest.RootElement.GetProperty("source").GetString());
    }

    [Fact]
    public void Npy_files_round_trip_and_carry_a_numpy_header()
    {
        string path = _dir.File("a.npy");
        float[] values = [1.5f, -2, 3.25f, 0, 7, 8];
        Npy.Write(path, values, [2, 3]);
        var (read, shape) = Npy.Read(path);
        Assert.Equal(values, read);
        Assert.Equal([2L, 3], shape);
        byte[] bytes = File.ReadAllBytes(path);
        Assert.Equal(0, (bytes.Length - 6 * 4) % 64);
        Assert.Contains("'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", System.Text.Encoding.ASCII.GetString(bytes), StringComparison.Ordinal);
    }

    private static IEnumerable<string> Names(string root, string folder) =>
        Directory.GetFiles(Path.Combine(root, folder)).Select(Path.GetFileName).Order(StringComparer.Ordinal)!;

    public void Dispose() => _dir.Dispose();
}
