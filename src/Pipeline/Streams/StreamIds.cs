namespace StreamMtl.Pipeline.Streams;

/// <summary>Stream ids appear in metric labels and logs, so they are short and plain.</summary>
public static class StreamIds
{
    public static bool IsValid(string? id) =>
        !string.IsNullOrEmpty(id) && id.Length <= 64 && id.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.');
}
