using System.Globalization;
using System.Text.Json;
using StreamMtl.Server.Cli;
using StreamMtl.Server.Tests.Infrastructure;
using Xunit.Abstractions;

namespace StreamMtl.Server.Tests.Cli;

/// <summary>
/// streammtl train and eval with --data KIND:PATH: the whole distillation path (label -> train --data folder -> eval --data) against
/// the issue's agreement bar, a smoke run per layout, and the errors (usage: exit 2; the data's contents: exit 1, naming the file).
/// </summary>
public sealed class DataCommandTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _dir = new();


    private static readonly string[] TinyModel = ["--threads", "2", "--blocks", "2", "--dim", "32", "--heads", "2", "--rank", "4", "--head-hidden", "32",
        "--split", "1", "--crop", "3x4", "--batch", "8", "--size", "64x48"];

    /// <summary>
    /// Issue 26's bar: a tiny ONNX teacher pair (colour -> class, the 1x1 convolution seg3; image position -> metric depth,
    /// position_depth) labels 100 frames of a synthetic camera through `streammtl label`; the student trains on the folder layout
    /// briefly (base 250 steps, then the depth sub-task 150 steps), and on the held-out last tenth of the recording (frames it never
    /// saw) it agrees with the teacher on >= 95 % of the pixels. Depth agreement is reported (AbsRel and delta1 against the teacher).
    /// </summary>
    [Fact]
    public async Task A_student_trained_on_teacher_labels_agrees_with_the_teacher_on_held_out_frames()
    {
        string segSpec = TeacherModels.WriteSpec(_dir.Path, "seg", TeacherModels.SegmentationSpec());
        string depthSpec = TeacherModels.WriteSpec(_dir.Path, "depth", TeacherModels.PlainSpec("metric_depth"));
        string layout = _dir.File("layout");
        string model = _dir.File("student.safetensors");
        string report = _dir.File("report.json");
        await Child(["label", "--source", "synthetic://static?seed=5&w=64&h=48&frames=100", "--out", layout,
            "--teacher", $"segmentation={TeacherModels.Model("seg3")}:{segSpec}", "--teacher", $"depth={TeacherModels.Model("position_depth")}:{depthSpec}"]);
        await Child(["train", "--data", $"folder:{layout}", "--stage", "base", .. TinyModel, "--refine", "segmentation", "--refine-hidden", "16",
            "--lr", "5e-3", "--steps", "250", "--out", model]);
        await Child(["train", "--data", $"folder:{layout}", "--stage", "sub", "--task", "depth", "--init", model, .. TinyModel[..2], "--crop", "3x4",
            "--batch", "8", "--size", "64x48", "--lr", "5e-3", "--steps", "150", "--out", model]);
        string evaluated = await Child(["eval", "--model", model, "--data", $"folder:{layout}", "--size", "64x48", "--json", report]);
        Assert.Contains("teacher outputs (teachers.json): the metrics are student-vs-teacher agreement", evaluated, StringComparison.Ordinal);

        using var json = JsonDocument.Parse(File.ReadAllText(report));
        Assert.Equal($"folder:{layout}", json.RootElement.GetProperty("data").GetString());
        Assert.Equal(10, json.RootElement.GetProperty("frames").GetInt32());
        var metrics = json.RootElement.GetProperty("metrics");
        double agreement = metrics.GetProperty("segmentation.pixel_accuracy").GetDouble();
        double absRel = metrics.GetProperty("depth.abs_rel").GetDouble();
        double delta1 = metrics.GetProperty("depth.delta1").GetDouble();
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"held-out agreement with the teachers: segmentation {agreement:P2} of pixels, mIoU {metrics.GetProperty("segmentation.miou").GetDouble():F3}; depth AbsRel {absRel:F4}, delta1 {delta1:P2}"));
        Assert.True(agreement >= 0.95, $"segmentation agreement {agreement:P2} < 95 %");
        Assert.True(delta1 >= 0.95, $"depth delta1 {delta1:P2} < 95 %");
    }

    [Theory]
    [InlineData("nyud")]
    [InlineData("pascal")]
    public async Task Train_and_eval_take_each_literature_layout(string kind)
    {
        string root = kind == "nyud" ? DatasetFixtures.Nyud(_dir.File(kind)) : DatasetFixtures.Pascal(_dir.File(kind));
        string model = _dir.File("m.safetensors");
        string report = _dir.File("r.json");
        string trained = await Child(["train", "--data", $"{kind}:{root}", "--stage", "all", .. TinyModel, "--steps", "3", "--out", _dir.File("models")]);
        Assert.Contains($"{kind}:{root} at 64x48", trained, StringComparison.Ordinal);
        File.Copy(Path.Combine(_dir.File("models"), "streammtl-default.safetensors"), model);
        await Child(["eval", "--model", model, "--baselines", "", "--data", $"{kind}:{root}", "--size", "64x48", "--json", report]);
        using var json = JsonDocument.Parse(File.ReadAllText(report));
        var metrics = json.RootElement.GetProperty("metrics");
        Assert.True(metrics.TryGetProperty("segmentation.miou", out _));
        Assert.True(metrics.TryGetProperty("normals.median_deg", out _));
        Assert.Equal(kind == "nyud", metrics.TryGetProperty("depth.rmse", out _));
        Assert.Equal(kind == "nyud" ? ["baseline-depth.safetensors", "baseline-normals.safetensors", "streammtl-default.safetensors"]
            : ["baseline-normals.safetensors", "streammtl-default.safetensors"],
            Directory.GetFiles(_dir.File("models")).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task A_bad_data_argument_is_a_usage_error()
    {
        var (code, error) = await Run("eval", "--data", "coco:/data");
        Assert.Equal((2, "streammtl eval: --data: 'coco:/data' is not KIND:PATH with KIND one of folder, nyud, pascal, pascal59 (e.g. folder:/data/site-a-labels, nyud:/data/NYUD_MT)"),
            (code, error.Trim()));
        string missing = _dir.File("absent");
        (code, error) = await Run("train", "--data", $"nyud:{missing}", "--out", _dir.File("m.safetensors"));
        Assert.Equal((2, $"streammtl train: --data nyud:{missing}: no such directory: {missing}"), (code, error.Trim()));
    }

    [Fact]
    public async Task Bad_files_are_dataset_errors_that_name_the_file()
    {
        string nyud = DatasetFixtures.Nyud(_dir.File("n"));
        File.Delete(Path.Combine(nyud, "gt_sets", "train.txt"));
        var (code, error) = await Run("train", "--data", $"nyud:{nyud}", "--out", _dir.File("m.safetensors"));
        Assert.Equal((1, $"streammtl train: dataset error: {Path.Combine(nyud, "gt_sets", "train.txt")}: missing split file"), (code, error.Trim()));

        string folder = DatasetFixtures.Folder(_dir.File("f"), samples: 4);
        string model = _dir.File("folder.safetensors");
        await Child(["train", "--data", $"folder:{folder}", "--stage", "base", .. TinyModel, "--steps", "2", "--out", model]);
        string broken = Path.Combine(folder, "normals", "000003.png");
        File.WriteAllText(broken, "not a png");
        (code, error) = await Run("eval", "--model", model, "--data", $"folder:{folder}", "--size", "64x48");
        Assert.Equal((1, $"streammtl eval: dataset error: {broken}: not an image OpenCV can read (corrupt or truncated?)"), (code, error.Trim()));

        (code, error) = await Run("eval", "--model", model, "--data", $"nyud:{DatasetFixtures.Nyud(_dir.File("n2"))}", "--size", "64x48");
        Assert.Equal(1, code);
        Assert.Contains($"dataset error: {model} segments 3 classes (floor, wall, box) but nyud:", error, StringComparison.Ordinal);
    }

    private static Task<string> Child(string[] args) => CliUnderTest.ChildAsync(args, TimeSpan.FromSeconds(180));

    private static Task<(int Code, string Error)> Run(params string[] args) => CliUnderTest.RunAsync(args);

    public void Dispose() => _dir.Dispose();
}
