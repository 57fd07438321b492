namespace StreamMtl.Ingest.Supervision;

/// <summary>Where a supervised stream is in its life.</summary>
public enum StreamState
{
    /// <summary>Opening the source; no frame yet.</summary>
    Connecting,
    /// <summary>Frames are arriving.</summary>
    Running,
    /// <summary>No frame within the stall timeout; the source is being torn down.</summary>
    Stalled,
    /// <summary>Waiting before the next connection attempt.</summary>
    Backoff,
    /// <summary>Finished: stopped by the owner or a finite source ended.</summary>
    Stopped,
    /// <summary>Nobody wants frames: a pull source is not read, a live stream decodes key frames only.</summary>
    Idle,
    /// <summary>Gave up on a permanent error (missing file, bad URI, no ffmpeg); see the last error.</summary>
    Failed,
}
