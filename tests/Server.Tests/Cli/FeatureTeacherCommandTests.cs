using System.Text.Json;
using OpenCvSharp;
using StreamMtl.Server.Tests.Infrastructure;

namespace StreamMtl.Server.Tests.Cli;

/// <summary>
/// The command line of issue 26's feature teacher: train --features DIR (and its companions) and eval --depth-ref IMAGE:GT;
/// usage errors exit 2 naming the option, the data's contents exit 1 naming the file; a depth reference lands in the JSON report.
/// </summary>
public sealed class FeatureTeacherCommandTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    [Theory]
    [InlineData("aloeL.jpg", "--depth-ref: 'aloeL.jpg' must be IMAGE:GT, an image and its disparity ground truth (0 = invalid), e.g. aloeL.jpg:aloeGT.png")]
    [InlineData("a:b:c", "--depth-ref: 'a:b:c' must be IMAGE:GT, an image and its disparity ground truth (0 = invalid), e.g. aloeL.jpg:aloeGT.png")]
    [InlineData("/nonexistent/left.png:/nonexistent/gt.png", "--depth-ref: image not found: /nonexistent/left.png")]
    public async Task A_bad_depth_reference_is_a_usage_error(string value, string message)
    {
        var (code, error) = await CliUnderTest.RunAsync("eval", "--model", RepositoryFiles.ShippedModel(), "--depth-ref", value);
        Assert.Equal((2, $"streammtl eval: {message}"), (code, error.Trim()));
    }

    [Fact]
    public async Task A_ground_truth_of_another_size_names_both_files()
    {
        var (image, truth) = Fixture(truthWidth: 40);
        var (code, error) = await CliUnderTest.RunAsync("eval", "--model", RepositoryFiles.ShippedModel(), "--sequences", "1", "--frames", "1",
            "--depth-ref", $"{image}:{truth}");
        Assert.Equal((1, $"streammtl eval: dataset error: {truth} is 40x48 but {image} is 64x48: the ground truth must be pixel for pixel the image's"),
            (code, error.Trim()));
    }

    [Fact]
    public async Task A_depth_reference_is_scored_over_its_valid_pixels_in_the_report()
    {
        var (image, truth) = Fixture();
        string report = Path.Combine(_dir.Path, "report.json");
        var (code, error) = await CliUnderTest.RunAsync("eval", "--model", RepositoryFiles.ShippedModel(), "--sequences", "1", "--frames", "1",
            "--depth-ref", $"{image}:{truth}", "--json", report);
        Assert.True(code == 0, error);
        using var json = JsonDocument.Parse(File.ReadAllText(report));
        var reference = json.RootElement.GetProperty("depth_reference");
        Assert.Equal(truth, reference.GetProperty("truth").GetString());
        var metrics = reference.GetProperty("metrics");
        Assert.Equal(64 * 48 - 64 * 8, metrics.GetProperty("pixels").GetInt64()); // the top 8 rows are invalid (0)
        Assert.InRange(metrics.GetProperty("abs_rel").GetDouble(), 0, 10);
        Assert.InRange(metrics.GetProperty("delta1").GetDouble(), 0, 1);
        Assert.InRange(metrics.GetProperty("spearman").GetDouble(), -1, 1);
    }

    [Theory]
    [InlineData(new[] { "--stage", "sub", "--features", "@D" }, "--features trains the shared trunk on a feature teacher: use it with --stage base, not sub")]
    [InlineData(new[] { "--features", "@D" }, "--features trains the shared trunk on a feature teacher: use it with --stage base, not all")]
    [InlineData(new[] { "--stage", "base", "--feature-weight", "2" }, "--feature-weight and --feature-batch go with --features DIR")]
    [InlineData(new[] { "--stage", "base", "--features", "@D", "--adapt", "4", "--init", "MODEL" }, "--features trains the trunk (its probe is not checkpointed): it does not combine with --adapt, --heads-only or --resume")]
    [InlineData(new[] { "--stage", "base", "--features", "@D/missing" }, "--features: no such directory: @D/missing")]
    public async Task Feature_options_in_the_wrong_place_are_usage_errors(string[] args, string message)
    {
        string[] resolved = [.. args.Select(a => a.Replace("@D", _dir.Path, StringComparison.Ordinal).Replace("MODEL", RepositoryFiles.ShippedModel(), StringComparison.Ordinal))];
        var (code, error) = await CliUnderTest.RunAsync(["train", "--out", Path.Combine(_dir.Path, "m.safetensors"), .. resolved]);
        Assert.Equal((2, $"streammtl train: {message.Replace("@D", _dir.Path, StringComparison.Ordinal)}"), (code, error.Trim()));
    }

    [Fact]
    public async Task A_feature_folder_without_maps_names_the_folder()
    {
        Directory.CreateDirectory(Path.Combine(_dir.Path, "images"));
        var (code, error) = await CliUnderTest.RunAsync("train", "--stage", "base", "--features", _dir.Path, "--steps", "1", "--blocks", "2", "--dim", "32",
            "--heads", "2", "--split", "1", "--size", "64x48", "--threads", "1", "--out", Path.Combine(_dir.Path, "m.safetensors"));
        Assert.Equal(1, code);
        Assert.StartsWith($"streammtl train: dataset error: {Path.Combine(_dir.Path, "features")}: missing", error.Trim(), StringComparison.Ordinal);
    }

    /// <summary>A 64x48 image and a disparity truth (rows brighter further down, the top 8 rows 0 = invalid).</summary>
    private (string Image, string Truth) Fixture(int truthWidth = 64)
    {
        string image = Path.Combine(_dir.Path, "left.png");
        string truth = Path.Combine(_dir.Path, "gt.png");
        using var left = new Mat(48, 64, MatType.CV_8UC3);
        Cv2.Randu(left, Scalar.All(0), Scalar.All(255));
        using var gt = new Mat(48, truthWidth, MatType.CV_8UC1, Scalar.All(0));
        for (int y = 8; y < 48; y++)
        {
            for (int x = 0; x < truthWidth; x++)
            {
                gt.Set(y, x, (byte)(20 + 4 * y));
            }
        }
        Cv2.ImWrite(image, left);
        Cv2.ImWrite(truth, gt);
        return (image, truth);
    }

    public void Dispose() => _dir.Dispose();
}
