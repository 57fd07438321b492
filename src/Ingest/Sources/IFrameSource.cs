using StreamMtl.Ingest.Frames;

namespace StreamMtl.Ingest.Sources;

/// <summary>A producer of frames; the caller owns (and must dispose) every frame it receives.</summary>
public interface IFrameSource : IAsyncDisposable
{
    /// <summary>The source URI with any credentials redacted, safe to log.</summary>
    string DisplayUri { get; }

    /// <summary>Frame geometry and rate as far as they are known before reading.</summary>
    SourceInfo Info { get; }

    /// <summary>
    /// Reads frames until the source ends or the token is cancelled. Open/read failures surface as
    /// <see cref="SourceException"/> with a specific <see cref="SourceErrorKind"/>.
    /// </summary>
    IAsyncEnumerable<Frame> ReadAsync(CancellationToken cancellationToken = default);

    /// <summary>What a supervisor does while nobody wants this source's frames; pull sources are simply not read.</summary>
    IdleMode WhenIdle => IdleMode.Pause;
}
