using StreamMtl.Ingest.Sources;

namespace StreamMtl.Ingest.Network;

/// <summary>Turns an ffmpeg exit without frames into a specific <see cref="SourceErrorKind"/>.</summary>
internal static class FfmpegErrors
{
    public static SourceErrorKind Classify(string stderr)
    {
        bool Has(string s) => stderr.Contains(s, StringComparison.OrdinalIgnoreCase);
        if (Has("Protocol not found") || Has("Protocol not available"))
        {
            return SourceErrorKind.UnsupportedScheme;
        }
        if (Has("401 Unauthorized") || Has("403 Forbidden") || Has("Server returned 401") || Has("Server returned 403"))
        {
            return SourceErrorKind.Forbidden;
        }
        if (Has("Invalid data found") || Has("could not find codec parameters") || Has("does not contain any stream"))
        {
            return SourceErrorKind.Corrupt;
        }
        // Refused, timed out, 404 (a camera path not published yet), DNS: all worth retrying.
        return SourceErrorKind.Unreachable;
    }
}
