namespace StreamMtl.Pipeline.Streams;

/// <summary>
/// Stream ids appear in metric labels, logs, URLs and file names, so they are short and plain: 1..64 characters of
/// [A-Za-z0-9_.-], starting with a letter or digit (so never "." or ".."), and not a reserved device name (CON, NUL,
/// COM1, ...), which some file systems cannot hold.
/// </summary>
public static class StreamIds
{
    /// <summary>The rule, as messages quote it.</summary>
    public const string Rule = "1..64 characters of [A-Za-z0-9_.-] starting with a letter or digit, not a reserved device name (CON, PRN, AUX, NUL, COM1-9, LPT1-9)";

    public static bool IsValid(string? id) =>
        !string.IsNullOrEmpty(id) && id.Length <= 64 && char.IsAsciiLetterOrDigit(id[0])
        && id.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.') && !IsReserved(id);

    private static bool IsReserved(string id)
    {
        string stem = id.Split('.')[0].ToUpperInvariant();
        return stem is "CON" or "PRN" or "AUX" or "NUL"
            || (stem.Length == 4 && (stem.StartsWith("COM", StringComparison.Ordinal) || stem.StartsWith("LPT", StringComparison.Ordinal)) && stem[3] is >= '1' and <= '9');
    }
}
