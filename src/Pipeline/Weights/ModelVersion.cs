using System.Security.Cryptography;

namespace StreamMtl.Pipeline.Weights;

/// <summary>A model file's version string: its format and the first 12 hex digits of the file's SHA-256.</summary>
public static class ModelVersion
{
    public static string Of(string path, ModelMetadata metadata)
    {
        using var stream = File.OpenRead(path);
        string hash = Convert.ToHexStringLower(SHA256.HashData(stream))[..12];
        return $"{metadata.Format}+sha256.{hash}";
    }
}
