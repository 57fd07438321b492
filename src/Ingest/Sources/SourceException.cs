namespace StreamMtl.Ingest.Sources;

/// <summary>Why a source could not be opened or read.</summary>
public enum SourceErrorKind
{
    /// <summary>The URI could not be parsed or has invalid parameters.</summary>
    InvalidUri,
    /// <summary>The URI scheme is not one StreamMtl can read.</summary>
    UnsupportedScheme,
    /// <summary>A file or device does not exist.</summary>
    NotFound,
    /// <summary>The file exists but is not a video the decoder understands.</summary>
    NotAVideo,
    /// <summary>The stream ended early or a frame could not be decoded.</summary>
    Corrupt,
    /// <summary>A file ends well before its header says: reading it again would replay the same frames, so it is not retried.</summary>
    Truncated,
    /// <summary>A network peer could not be reached or dropped the connection.</summary>
    Unreachable,
    /// <summary>No frame arrived within the stall timeout.</summary>
    Stalled,
    /// <summary>A helper program (ffmpeg) is missing or failed to start.</summary>
    DependencyMissing,
    /// <summary>Access to the resource is not allowed.</summary>
    Forbidden,
}

/// <summary>A source failure with a specific kind and a message safe to show (credentials redacted).</summary>
public sealed class SourceException : Exception
{
    public SourceException(SourceErrorKind kind, string message, Exception? inner = null)
        : base(message, inner)
    {
        Kind = kind;
    }

    public SourceErrorKind Kind { get; }

    /// <summary>Permanent failures are not retried by a supervisor.</summary>
    public bool IsPermanent => Kind is SourceErrorKind.InvalidUri or SourceErrorKind.UnsupportedScheme
        or SourceErrorKind.NotFound or SourceErrorKind.NotAVideo or SourceErrorKind.DependencyMissing
        or SourceErrorKind.Forbidden or SourceErrorKind.Truncated;
}
