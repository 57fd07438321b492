namespace StreamMtl.Pipeline.Streams;

/// <summary>Stream ids appear in metric labels and logs, so they are short and plain.</summary>
public static class StreamIds
{
    /// <summary>The rule, as messages quote it.</summary>
    public const string Rule = "1..64 characters of [A-Za-z0-9_.-]";

    public static bool IsValid(string? id) =>
        !string.IsNullOrEmpty(id) && id.Length <= 64 && id.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.');
}
