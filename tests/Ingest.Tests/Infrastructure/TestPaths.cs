namespace StreamMtl.Ingest.Tests.Infrastructure;

/// <summary>Finds the repository root and the shared clips that live beside it (never inside it).</summary>
internal static class TestPaths
{
    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary>
    /// ../shared/videos from the repo root; a worktree sits one level deeper than the main checkout, so the nearest
    /// ancestor holding shared/videos wins. STREAMMTL_SHARED_VIDEOS overrides both.
    /// </summary>
    public static string VideosDir { get; } = FindVideos();

    public static string Video(string name) => Path.Combine(VideosDir, name);

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "StreamMtl.sln")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException($"StreamMtl.sln not found above {AppContext.BaseDirectory}");
    }

    private static string FindVideos()
    {
        if (Environment.GetEnvironmentVariable("STREAMMTL_SHARED_VIDEOS") is { Length: > 0 } overridden)
        {
            return overridden;
        }
        for (var dir = Directory.GetParent(RepoRoot); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "shared", "videos");
            if (Directory.Exists(candidate))
            {
                return candidate;
            }
        }
        throw new InvalidOperationException($"shared/videos not found beside {RepoRoot} (expected {Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared", "videos"))})");
    }
}
