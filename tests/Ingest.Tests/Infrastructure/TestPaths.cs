namespace StreamMtl.Ingest.Tests.Infrastructure;

/// <summary>The shared clips that live beside the repository (see <see cref="RepositoryFiles.SharedVideo"/>).</summary>
internal static class TestPaths
{
    public static string Video(string name) => RepositoryFiles.SharedVideo(name);
}
