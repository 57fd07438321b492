namespace StreamMtl.Tests.Shared;

/// <summary>Files of the repository the tests run from: its root, the shipped model, and the shared clips beside it.</summary>
internal static class RepositoryFiles
{
    /// <summary>The folder holding StreamMtl.sln, found upwards from the test binaries.</summary>
    public static string Root()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "StreamMtl.sln")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException("repository root (StreamMtl.sln) not found above " + AppContext.BaseDirectory);
    }

    /// <summary>The shipped model, committed under models/ (it is part of every clone).</summary>
    public static string ShippedModel()
    {
        string path = Path.Combine(Root(), "models", "streammtl-default.safetensors");
        return File.Exists(path) ? path : throw new FileNotFoundException("the shipped model is missing from the checkout", path);
    }

    /// <summary>
    /// A clip of ../shared/videos beside the repository root (never inside it); a worktree sits one level deeper than the
    /// main checkout, so the nearest ancestor holding shared/videos wins. STREAMMTL_SHARED_VIDEOS overrides both.
    /// </summary>
    public static string SharedVideo(string name) => Path.Combine(SharedVideos.Value, name);

    private static readonly Lazy<string> SharedVideos = new(() =>
    {
        if (Environment.GetEnvironmentVariable("STREAMMTL_SHARED_VIDEOS") is { Length: > 0 } overridden)
        {
            return overridden;
        }
        string root = Root();
        for (var dir = Directory.GetParent(root); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "shared", "videos");
            if (Directory.Exists(candidate))
            {
                return candidate;
            }
        }
        throw new InvalidOperationException($"shared/videos not found beside {root} (expected {Path.GetFullPath(Path.Combine(root, "..", "shared", "videos"))})");
    });
}
