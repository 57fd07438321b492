namespace StreamMtl.Tests.Shared;

/// <summary>Files of the repository the tests run from: its root and the shipped model.</summary>
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
}
