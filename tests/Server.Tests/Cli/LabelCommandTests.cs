using System.Text.Json;
using OpenCvSharp;
using StreamMtl.Server.Cli;
using StreamMtl.Server.Tests.Infrastructure;

namespace StreamMtl.Server.Tests.Cli;

/// <summary>streammtl label: tiny ONNX teachers (make_teachers.py) over a synthetic source, written as the folder layout.</summary>
public sealed class LabelCommandTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    private static string Cli => Path.Combine(AppContext.BaseDirectory, "streammtl");

    [Fact]
    public async Task Label_writes_the_layout_for_every_second_frame_of_a_synthetic_source()
    {
        string segSpec = TeacherModels.WriteSpec(_dir.Path, "seg", TeacherModels.SegmentationSpec());
        string depthSpec = TeacherModels.WriteSpec(_dir.Path, "depth", TeacherModels.PlainSpec("metric_depth"));
        string output = _dir.File("layout");
        await using var label = ChildProcess.Start(Cli, ["label", "--source", "synthetic://static?seed=3&w=160&h=128&frames=6",
            "--teacher", $"segmentation={TeacherModels.Model("seg3")}:{segSpec}", "--teacher", $"depth={TeacherModels.Model("depth")}:{depthSpec}",
            "--every", "2", "--soft", "--out", output]);
        Assert.True(await label.WaitAsync(TimeSpan.FromSeconds(120)) == 0, label.Output);
        Assert.Contains("3 samples from 6 frames", label.Output, StringComparison.Ordinal);

        Assert.Equal(["classes.json", "depth", "images", "segmentation", "soft", "teachers.json"],
            Directory.GetFileSystemEntries(output).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        string[] ids = ["000000.png", "000002.png", "000004.png"];
        foreach (var (folder, type) in new[] { ("images", MatType.CV_8UC3), ("segmentation", MatType.CV_8UC1), ("depth", MatType.CV_16UC1) })
        {
            Assert.Equal(ids, Directory.GetFiles(Path.Combine(output, folder)).Select(Path.GetFileName).Order(StringComparer.Ordinal));
            using var image = Cv2.ImRead(Path.Combine(output, folder, ids[1]), ImreadModes.Unchanged);
            Assert.Equal((160, 128, type), (image.Width, image.Height, image.Type()));
        }
        Assert.Equal(3, Directory.GetFiles(Path.Combine(output, "soft", "segmentation"), "*.npy").Length);
        using (var labels = Cv2.ImRead(Path.Combine(output, "segmentation", ids[0]), ImreadModes.Unchanged))
        {
            Cv2.MinMaxLoc(labels, out double low, out double high);
            Assert.InRange(high, low, 2); // three classes
        }
        using var manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "teachers.json")));
        Assert.Equal([0, 2, 4], manifest.RootElement.GetProperty("samples").EnumerateArray().Select(s => s.GetProperty("frame").GetInt32()));
        Assert.Equal(2, manifest.RootElement.GetProperty("every").GetInt32());
        Assert.StartsWith("synthetic://static", manifest.RootElement.GetProperty("source").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Frames_caps_the_samples_and_size_resizes_them()
    {
        string segSpec = TeacherModels.WriteSpec(_dir.Path, "seg3", TeacherModels.SegmentationSpec());
        File.Copy(TeacherModels.Model("seg3"), _dir.File("seg3.onnx"));
        string output = _dir.File("layout");
        var (code, _, error) = await Run("label", "--source", "synthetic://static?seed=3&w=160&h=128&frames=6&realtime=0",
            "--teacher", $"segmentation={_dir.File("seg3.onnx")}", "--frames", "2", "--size", "80x64", "--out", output);
        Assert.True(code == 0, error);
        Assert.Equal(["000000.png", "000001.png"], Directory.GetFiles(Path.Combine(output, "segmentation")).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        using var image = Cv2.ImRead(Path.Combine(output, "images", "000001.png"));
        Assert.Equal((80, 64), (image.Width, image.Height));
        Assert.True(File.Exists(segSpec));
    }

    [Fact]
    public async Task Usage_errors_exit_2_and_name_what_is_wrong()
    {
        string model = TeacherModels.Model("seg3");
        var (code, _, error) = await Run("label", "--source", "synthetic://static?frames=1", "--out", _dir.File("a"));
        Assert.Equal((2, "streammtl label: at least one --teacher TASK=FILE.onnx[:SPEC.json] is required"), (code, error.Trim()));
        (code, _, error) = await Run("label", "--source", "synthetic://static?frames=1", "--out", _dir.File("a"), "--teacher", $"semantic={model}");
        Assert.Equal(2, code);
        Assert.Contains("--teacher: unknown task 'semantic'", error, StringComparison.Ordinal);
        (code, _, error) = await Run("label", "--source", "synthetic://static?frames=1", "--out", _dir.File("a"), "--teacher", model);
        Assert.Equal(2, code);
        Assert.Contains($"--teacher: '{model}' is not TASK=FILE.onnx[:SPEC.json]", error, StringComparison.Ordinal);
        File.WriteAllText(_dir.File("busy.txt"), "x");
        (code, _, error) = await Run("label", "--source", "synthetic://static?frames=1", "--out", _dir.Path, "--teacher", $"segmentation={model}");
        Assert.Equal((2, $"streammtl label: --out {_dir.Path} is not empty; the layout is written to a new or empty directory"), (code, error.Trim()));
        (code, _, error) = await Run("label", "--source", "synthetic://static?frames=1", "--out", _dir.File("a"), "--teacher", $"segmentation={model}", "--every", "0");
        Assert.Equal(2, code);
        Assert.Contains("--every must be between 1 and 1000000, got 0", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_bad_teacher_exits_1_naming_the_file()
    {
        string spec = TeacherModels.WriteSpec(_dir.Path, "seg", TeacherModels.SegmentationSpec());
        string nan = TeacherModels.Model("seg3_nan");
        var (code, _, error) = await Run("label", "--source", "synthetic://static?seed=3&w=64&h=48&frames=2&realtime=0", "--out", _dir.File("a"),
            "--teacher", $"segmentation={nan}:{spec}");
        Assert.Equal(1, code);
        Assert.StartsWith($"streammtl label: teacher error: {nan}: output 'logits' has a non-finite value (NaN)", error, StringComparison.Ordinal);
        Assert.Contains("on frame synthetic://static", error, StringComparison.Ordinal);

        string wrong = TeacherModels.Model("seg3_32x32");
        (code, _, error) = await Run("label", "--source", "synthetic://static?frames=1", "--out", _dir.File("b"), "--teacher", $"segmentation={wrong}:{spec}");
        Assert.Equal(1, code);
        Assert.Contains($"teacher error: {wrong}: input 'image' has shape [1,3,32,32]", error, StringComparison.Ordinal);
        Assert.False(Directory.Exists(_dir.File("b")), "nothing is written when a teacher fails to load");
    }

    private static async Task<(int Code, string Output, string Error)> Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = await CommandLine.RunAsync(args, output, error);
        return (code, output.ToString(), error.ToString());
    }

    public void Dispose() => _dir.Dispose();
}
