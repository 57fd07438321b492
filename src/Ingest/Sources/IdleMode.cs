namespace StreamMtl.Ingest.Sources;

/// <summary>How a source costs (almost) nothing while nobody wants its frames.</summary>
public enum IdleMode
{
    /// <summary>Not read at all: a pull source (synthetic camera, file, device) does no work until read again.</summary>
    Pause,

    /// <summary>
    /// Reconnected with <see cref="SourceOptions.KeyframesOnly"/>: a live stream keeps its connection (the sender is
    /// not dropped) but decodes only key frames; reconnected at full rate when frames are wanted again.
    /// </summary>
    Reconnect,
}
