using StreamMtl.Ingest.Synthetic;
using StreamMtl.Pipeline.Model;
using StreamMtl.Pipeline.Weights;

namespace StreamMtl.Server.Tests.Infrastructure;

/// <summary>A tiny random-weight model saved once per test run, so tests do not depend on the shipped file.</summary>
internal static class TestModel
{
    private static readonly Lazy<string> _path = new(() =>
    {
        string dir = Path.Combine(Path.GetTempPath(), $"streammtl-server-tests-{Environment.ProcessId}");
        Directory.CreateDirectory(dir);
        string path = Path.Combine(dir, "tiny.safetensors");
        TorchSharp.torch.random.manual_seed(17);
        using var model = new MultiTaskVit(new ModelConfig { Dim = 32, Heads = 2, Blocks = 2, SplitLayer = 1, DeltaFrom = 1, Rank = 4, HeadHidden = 16 });
        ModelFile.Save(path, model, new ModelMetadata { Config = model.Config, Classes = [.. SyntheticClasses.Names] });
        return path;
    });

    public static string Path_ => _path.Value;

    private static readonly Lazy<string> _withPolicy = new(() =>
    {
        string dir = Path.Combine(Path.GetTempPath(), $"streammtl-server-tests-{Environment.ProcessId}");
        Directory.CreateDirectory(dir);
        string path = Path.Combine(dir, "tiny-policy.safetensors");
        TorchSharp.torch.random.manual_seed(17);
        using var model = new MultiTaskVit(new ModelConfig
        {
            Dim = 32, Heads = 2, Blocks = 2, SplitLayer = 1, DeltaFrom = 1, Rank = 4, HeadHidden = 16,
            Policy = new StreamMtl.Pipeline.Model.Policy.PolicyConfig { Hidden = 8 },
        });
        ModelFile.Save(path, model, new ModelMetadata { Config = model.Config, Classes = [.. SyntheticClasses.Names] });
        return path;
    });

    /// <summary>The tiny model with a compute policy (random weights), for compute budgets below 1.</summary>
    public static string WithPolicy => _withPolicy.Value;

    /// <summary>The shipped model, or null when it has not been committed yet.</summary>
    public static string? Shipped()
    {
        if (Environment.GetEnvironmentVariable("STREAMMTL_MODEL") is { Length: > 0 } fromEnv && File.Exists(fromEnv))
        {
            return fromEnv;
        }
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "StreamMtl.sln")))
            {
                string candidate = Path.Combine(dir.FullName, "models", "streammtl-default.safetensors");
                return File.Exists(candidate) ? candidate : null;
            }
        }
        return null;
    }

    public static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "StreamMtl.sln")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException("repository root (StreamMtl.sln) not found");
    }
}
