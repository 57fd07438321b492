namespace StreamMtl.Server.Hosting;

/// <summary>Finds the shipped model: $STREAMMTL_MODEL, else models/ beside the executable, else models/ in the repo.</summary>
public static class ModelLocator
{
    public const string DefaultFileName = "streammtl-default.safetensors";

    public static string Default()
    {
        string? fromEnv = Environment.GetEnvironmentVariable("STREAMMTL_MODEL");
        if (!string.IsNullOrEmpty(fromEnv))
        {
            return fromEnv;
        }
        string beside = Path.Combine(AppContext.BaseDirectory, "models", DefaultFileName);
        if (File.Exists(beside))
        {
            return beside;
        }
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir != null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "models", DefaultFileName);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }
        return beside;
    }
}
