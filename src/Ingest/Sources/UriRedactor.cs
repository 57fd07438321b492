using System.Text.RegularExpressions;

namespace StreamMtl.Ingest.Sources;

/// <summary>Removes credentials from URIs and from text that may quote them (ffmpeg's stderr).</summary>
public static partial class UriRedactor
{
    public const string Mask = "***";

    /// <summary>Replaces <c>user:password@</c> and secret-looking query values with <see cref="Mask"/>.</summary>
    public static string Redact(string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return text ?? string.Empty;
        }
        var redacted = UserInfo().Replace(text, m => m.Groups["scheme"].Value + Mask + "@");
        return SecretQuery().Replace(redacted, m => m.Groups["key"].Value + Mask);
    }

    // Whole-text patterns, not Uri parsing: ffmpeg quotes URLs inside longer messages. Greedy up to the last '@'
    // before the path, so an unescaped '@' inside a password is masked too.
    [GeneratedRegex(@"(?<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s?#]+@")]
    private static partial Regex UserInfo();

    [GeneratedRegex(@"(?<key>[?&#;](?:password|passwd|pass|pwd|token|key|secret|auth|access_token)=)[^&#\s]*", RegexOptions.IgnoreCase)]
    private static partial Regex SecretQuery();
}
