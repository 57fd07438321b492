using System.Globalization;
using System.Text;

namespace StreamMtl.Server.Security;

/// <summary>
/// Untrusted text at the door: what may be accepted (no control or line-separator characters, bounded length) and how
/// much of it an error may echo back (a short, escaped prefix: nothing raw reaches a log line or a status detail).
/// </summary>
public static class InputText
{
    /// <summary>Longest source URI accepted from a client.</summary>
    public const int MaxUriLength = 2048;

    /// <summary>Characters of bad input an error message quotes, at most.</summary>
    public const int EchoLength = 64;

    /// <summary>Control characters (C0, DEL, C1) and the Unicode line and paragraph separators.</summary>
    public static bool HasControl(string text) => text.Any(c => char.IsControl(c) || c is '\u2028' or '\u2029');

    /// <summary>Why <paramref name="uri"/> is not acceptable as a source URI from a client, or null.</summary>
    public static string? CheckUri(string uri)
    {
        if (uri.Length > MaxUriLength)
        {
            return $"source_uri is {uri.Length} characters, over the limit of {MaxUriLength}";
        }
        return HasControl(uri) ? $"source_uri '{Echo(uri)}' contains control characters" : null;
    }

    /// <summary>A bounded, escaped prefix of <paramref name="text"/> for error messages.</summary>
    public static string Echo(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return "";
        }
        var builder = new StringBuilder(EchoLength + 16);
        foreach (char c in text.Take(EchoLength))
        {
            if (char.IsControl(c) || c is '\u2028' or '\u2029' || char.IsSurrogate(c))
            {
                builder.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
            }
            else
            {
                builder.Append(c);
            }
        }
        if (text.Length > EchoLength)
        {
            builder.Append(CultureInfo.InvariantCulture, $"... ({text.Length} characters)");
        }
        return builder.ToString();
    }
}
