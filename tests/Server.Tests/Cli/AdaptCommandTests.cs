using StreamMtl.Server.Cli;
using StreamMtl.Server.Tests.Infrastructure;

namespace StreamMtl.Server.Tests.Cli;

/// <summary>
/// streammtl train --adapt and eval --adapter (MTLoRA, issue 26 item 3): a tiny base on a folder-layout fixture is adapted at rank 2,
/// the adapter evaluates folded into that base, and the usage errors (--adapt without --init, rank &lt; 1, another stage) and bad
/// adapter files (another base, a model file, a missing file) are refused naming the file.
/// </summary>
public sealed class AdaptCommandTests : IDisposable
{
    private readonly TempDirectory _dir = new();


    private static readonly string[] TinyModel = ["--threads", "2", "--blocks", "2", "--dim", "32", "--heads", "2", "--rank", "4", "--head-hidden", "32",
        "--split", "1", "--crop", "3x4", "--batch", "4", "--size", "64x48"];

    [Fact]
    public async Task Train_adapt_writes_an_adapter_that_eval_folds_into_its_base_only()
    {
        string folder = DatasetFixtures.Folder(_dir.File("f"), samples: 4);
        string model = _dir.File("base.safetensors");
        string other = _dir.File("other.safetensors");
        string adapter = _dir.File("adapter.safetensors");
        await Child(["train", "--data", $"folder:{folder}", "--stage", "base", .. TinyModel, "--steps", "2", "--out", model]);
        await Child(["train", "--data", $"folder:{folder}", "--stage", "base", .. TinyModel, "--steps", "2", "--seed", "2", "--out", other]);
        string adapted = await Child(["train", "--data", $"folder:{folder}", "--adapt", "2", "--init", model, "--threads", "2", "--crop", "3x4",
            "--batch", "4", "--size", "64x48", "--steps", "3", "--out", adapter]);
        Assert.Contains($"adapting {model} at rank 2: ", adapted, StringComparison.Ordinal);
        Assert.Contains("trainable parameters of", adapted, StringComparison.Ordinal);
        Assert.True(new FileInfo(adapter).Length < new FileInfo(model).Length);

        string evaluated = await Child(["eval", "--model", model, "--adapter", adapter, "--baselines", "", "--data", $"folder:{folder}", "--size", "64x48"]);
        Assert.Contains("segmentation", evaluated, StringComparison.Ordinal);

        var (code, error) = await Run("eval", "--model", other, "--adapter", adapter, "--baselines", "", "--data", $"folder:{folder}", "--size", "64x48");
        Assert.Equal(1, code);
        Assert.StartsWith($"streammtl eval: model file error: {adapter}: adapts base base.safetensors (", error.Trim(), StringComparison.Ordinal);
        Assert.Contains($"not {other} (", error, StringComparison.Ordinal);

        (code, error) = await Run("eval", "--model", model, "--adapter", other, "--baselines", "", "--data", $"folder:{folder}", "--size", "64x48");
        Assert.Equal(1, code);
        Assert.Contains($"{other}: no \"streammtl-adapter\" metadata entry; not a StreamMtl adapter file", error, StringComparison.Ordinal);

        string info = await Child(["info", "--model", model, "--adapter", adapter]);
        Assert.Contains("\"Format\":\"streammtl-adapter/1\"", info, StringComparison.Ordinal);
        Assert.Contains("\"Rank\":2", info, StringComparison.Ordinal);
        (code, error) = await Run("info", "--model", other, "--adapter", adapter);
        Assert.Equal(1, code);
        Assert.Contains($"{adapter}: adapts base base.safetensors (", error, StringComparison.Ordinal);

        string missing = _dir.File("absent.safetensors");
        (code, error) = await Run("eval", "--model", model, "--adapter", missing, "--baselines", "", "--data", $"folder:{folder}", "--size", "64x48");
        Assert.Equal((1, $"streammtl eval: model file error: adapter file {missing} does not exist"), (code, error.Trim()));
    }

    [Fact]
    public async Task Adapt_usage_errors()
    {
        var (code, error) = await Run("train", "--adapt", "2", "--out", _dir.File("a.safetensors"));
        Assert.Equal((2, "streammtl train: --adapt trains adapters on a trained model: add --init MODEL"), (code, error.Trim()));

        (code, error) = await Run("train", "--adapt", "0", "--out", _dir.File("a.safetensors"));
        Assert.Equal(2, code);
        Assert.Contains("--adapt", error, StringComparison.Ordinal);

        string model = _dir.File("m.safetensors");
        File.WriteAllText(model, "x");
        (code, error) = await Run("train", "--adapt", "2", "--stage", "sub", "--init", model, "--out", _dir.File("a.safetensors"));
        Assert.Equal((2, "streammtl train: --adapt trains every task of the --init model at once; drop --stage sub"), (code, error.Trim()));
    }

    private static Task<string> Child(string[] args) => CliUnderTest.ChildAsync(args, TimeSpan.FromSeconds(120));

    private static Task<(int Code, string Error)> Run(params string[] args) => CliUnderTest.RunAsync(args);

    public void Dispose() => _dir.Dispose();
}
