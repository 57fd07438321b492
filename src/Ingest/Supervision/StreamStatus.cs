using StreamMtl.Ingest.Sources;

namespace StreamMtl.Ingest.Supervision;

/// <summary>A snapshot of one stream's state and counters; every string in it is credential-free.</summary>
public sealed record StreamStatus(
    string DisplayUri,
    StreamState State,
    DateTimeOffset StateSince,
    string? LastError,
    SourceErrorKind? LastErrorKind,
    long Frames,
    long Drops,
    long Reconnects,
    long Stalls,
    DateTimeOffset? LastFrameAt);
