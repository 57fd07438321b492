using StreamMtl.Pipeline.Model;
using OpenCvSharp;
using StreamMtl.Ingest.Frames;
using StreamMtl.Training.Evaluation;
using StreamMtl.Training;
using StreamMtl.Pipeline.Weights;
using StreamMtl.Server.Cli;
using StreamMtl.Server.Tests.Infrastructure;

namespace StreamMtl.Server.Tests.Cli;

/// <summary>streammtl eval --dump: one error-map image per held-out frame, showing where the model errs.</summary>
public sealed class EvalCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("streammtl-eval-cli-").FullName;

    private static string Cli => Path.Combine(AppContext.BaseDirectory, "streammtl");

    [Fact]
    public async Task Eval_with_dump_writes_one_error_map_per_frame()
    {
        string model = Path.Combine(_dir, "tiny.safetensors");
        string dump = Path.Combine(_dir, "maps");
        await TrainTinyModel(model);
        await using var eval = ChildProcess.Start(Cli, ["eval", "--model", model, "--baselines", "", "--sequences", "1", "--frames", "3",
            "--size", "64x48", "--dump", dump]);
        Assert.True(await eval.WaitAsync(TimeSpan.FromSeconds(120)) == 0, eval.Output);

        var files = Directory.GetFiles(dump).Order().ToArray();
        Assert.Equal(["frame-000.png", "frame-001.png", "frame-002.png"], files.Select(Path.GetFileName));
        using var image = Cv2.ImRead(files[0]);
        Assert.Equal((3 * 64, 2 * 48), (image.Width, image.Height));
    }

    [Fact]
    public async Task Eval_with_record_stores_the_report_in_the_model_file_and_leaves_the_weights()
    {
        string model = Path.Combine(_dir, "tiny.safetensors");
        string json = Path.Combine(_dir, "report.json");
        await TrainTinyModel(model);
        var before = TensorBytes(model);
        Assert.Empty(ModelFile.ReadMetadata(model).Metrics);

        await using (var refused = ChildProcess.Start(Cli, ["eval", "--model", model, "--baselines", "", "--threshold", "0.1", "--record"]))
        {
            Assert.Equal(2, await refused.WaitAsync(TimeSpan.FromSeconds(120)));
            Assert.Contains("--record stores figures of the model as stored", refused.Output, StringComparison.Ordinal);
        }
        await using var eval = ChildProcess.Start(Cli, ["eval", "--model", model, "--baselines", "", "--sequences", "1", "--frames", "2",
            "--size", "64x48", "--json", json, "--record"]);
        Assert.True(await eval.WaitAsync(TimeSpan.FromSeconds(120)) == 0, eval.Output);

        var metadata = ModelFile.ReadMetadata(model);
        using var report = System.Text.Json.JsonDocument.Parse(File.ReadAllText(json));
        double miou = report.RootElement.GetProperty("metrics").GetProperty("segmentation.miou").GetDouble();
        Assert.Equal(miou, metadata.Metrics["segmentation.miou"]);
        Assert.Equal(2, metadata.Metrics["eval.frames"]);
        Assert.Equal(64, metadata.Metrics["eval.width"]);
        Assert.True(metadata.Metrics["gflops.all_tasks_over_base"] > 1);
        Assert.Equal("base", metadata.Training.Single().Stage);
        Assert.Equal(before, TensorBytes(model));
    }

    [Fact]
    public async Task Eval_on_a_validation_set_renders_other_seeds_and_stays_below_the_training_seeds()
    {
        string model = Path.Combine(_dir, "tiny.safetensors");
        string json = Path.Combine(_dir, "validation.json");
        await TrainTinyModel(model);
        await using (var eval = ChildProcess.Start(Cli, ["eval", "--model", model, "--baselines", "", "--first-seed", "101", "--sequences", "2",
            "--frames", "1", "--size", "64x48", "--json", json]))
        {
            Assert.True(await eval.WaitAsync(TimeSpan.FromSeconds(120)) == 0, eval.Output);
            Assert.Contains("from 2 sequences (seeds 101..102)", eval.Output, StringComparison.Ordinal);
        }
        using (var report = System.Text.Json.JsonDocument.Parse(File.ReadAllText(json)))
        {
            Assert.Equal(101, report.RootElement.GetProperty("first_seed").GetInt32());
            Assert.Equal(2, report.RootElement.GetProperty("sequences").GetInt32());
        }

        var reaching = Assert.Throws<CliException>(() => EvalCommand.Run(CommandLine.Parse(["eval", "--model", model, "--first-seed", "9995", "--sequences", "8"])));
        Assert.Equal("--first-seed 9995 --sequences 8: the seeds would reach 10000, where training data starts", reaching.Message);
        var recorded = Assert.Throws<CliException>(() => EvalCommand.Run(CommandLine.Parse(["eval", "--model", model, "--first-seed", "101", "--record"])));
        Assert.StartsWith("--record stores figures of the model as stored, on the evaluation set", recorded.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => SyntheticDataset.Evaluation(8, firstSeed: 9993));
        Assert.Equal(101, SyntheticDataset.Evaluation(2, firstSeed: 101).Sequence(0).Seed);
    }

    [Fact]
    public async Task Calibration_writes_a_model_with_its_offsets_recorded_and_keeps_the_input()
    {
        string model = Path.Combine(_dir, "tiny.safetensors");
        string calibrated = Path.Combine(_dir, "calibrated.safetensors");
        await TrainTinyModel(model);
        var before = TensorBytes(model);
        await using (var calibrate = ChildProcess.Start(Cli, ["calibrate", "--model", model, "--out", calibrated, "--first-seed", "101",
            "--sequences", "2", "--frames", "2", "--size", "64x48"]))
        {
            Assert.True(await calibrate.WaitAsync(TimeSpan.FromSeconds(120)) == 0, calibrate.Output);
            Assert.Matches(@"calibrated on 4 frames \(12288 pixels\): validation mIoU 0\.\d{4} -> 0\.\d{4}", calibrate.Output);
        }
        Assert.Equal(before, TensorBytes(model));
        var record = ModelFile.ReadMetadata(calibrated).Training[^1];
        Assert.Equal("calibrate", record.Stage);
        Assert.Contains("validation seeds 101..102 (4 frames at 64x48)", record.Data, StringComparison.Ordinal);
        Assert.Matches(@"floor [+-]\d\.\d\d, wall", record.Data);
        var changed = TensorBytes(calibrated).Zip(before).Where(p => p.First != p.Second).Select(p => p.First.Name).ToList();
        Assert.True(changed.All(n => n == "heads.segmentation.fc2.bias"), string.Join(", ", changed));
    }

    private static async Task TrainTinyModel(string model)
    {
        await using var train = ChildProcess.Start(Cli, ["train", "--stage", "base", "--threads", "1", "--blocks", "2", "--dim", "16",
            "--heads", "1", "--rank", "2", "--head-hidden", "8", "--split", "1", "--crop", "2x3", "--batch", "2", "--steps", "2", "--out", model]);
        Assert.True(await train.WaitAsync(TimeSpan.FromSeconds(120)) == 0, train.Output);
    }

    /// <summary>Each tensor's name and raw bytes, in file order.</summary>
    private static List<(string Name, string Bytes)> TensorBytes(string path)
    {
        using var file = SafeTensorsFile.Read(path);
        return file.Tensors.Select(t =>
        {
            using var tensor = file.Load(t.Name);
            return (t.Name, Convert.ToHexString(tensor.data<float>().ToArray().SelectMany(BitConverter.GetBytes).ToArray()));
        }).ToList();
    }

    [Fact]
    public void A_perfect_prediction_shows_no_error_and_a_wrong_label_shows_red()
    {
        const int w = 32, h = 24;
        var truth = new FrameTruth(w, h, new byte[w * h], Enumerable.Repeat(2f, w * h).ToArray(), new float[w * h * 3]);
        for (int i = 0; i < w * h; i++)
        {
            truth.Normals[3 * i + 2] = -1;
        }
        truth.Labels[0] = FrameTruth.Ignore;
        var frame = new TruthFrame(Enumerable.Repeat((byte)90, w * h * 3).ToArray(), truth);
        var labels = (byte[])truth.Labels.Clone();
        labels[0] = 0;
        int wrong = w * (h - 1) + w - 1; // bottom-right pixel, clear of the panel captions
        labels[wrong] = 3;
        var depth = (float[])truth.Depth.Clone();
        depth[wrong] = 3; // relative error 0.5: the top of the scale
        var normals = (float[])truth.Normals.Clone();
        normals[3 * wrong] = 1;
        normals[3 * wrong + 2] = 0; // 90 degrees off

        using var map = ErrorMaps.Compose(frame, new Predictions(w, h, labels, depth, normals));
        Assert.Equal((3 * w, 2 * h), (map.Width, map.Height));
        using var turbo = new Mat();
        using (var levels = new Mat(1, 2, MatType.CV_8UC1))
        {
            levels.Set(0, 0, (byte)0);
            levels.Set(0, 1, (byte)255);
            Cv2.ApplyColorMap(levels, turbo, ColormapTypes.Turbo);
        }
        var zero = turbo.At<Vec3b>(0, 0);
        var full = turbo.At<Vec3b>(0, 1);
        int y = h - 1;
        Assert.Equal(new Vec3b(0, 0, 255), map.At<Vec3b>(y, w + w - 1));                     // segmentation: red
        Assert.NotEqual(new Vec3b(0, 0, 255), map.At<Vec3b>(y, w + w - 2));                  // its correct neighbour
        Assert.Equal(full, map.At<Vec3b>(y, 2 * w + w - 1));                                 // depth: top of scale
        Assert.Equal(zero, map.At<Vec3b>(y, 2 * w + w - 2));                                 // exact depth
        Assert.Equal(full, map.At<Vec3b>(h + y, 2 * w + w - 1));                             // normals: 90 deg
        Assert.Equal(zero, map.At<Vec3b>(h + y, 2 * w + w - 2));                             // exact normal
        Assert.Equal(new Vec3b(0, 0, 0), map.At<Vec3b>(h, 2 * w));                           // ignored pixel: black
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
