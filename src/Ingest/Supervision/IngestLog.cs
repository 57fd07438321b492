using Microsoft.Extensions.Logging;
using StreamMtl.Ingest.Sources;

namespace StreamMtl.Ingest.Supervision;

/// <summary>Source-generated log messages of stream supervision; URIs and errors passed in are already redacted.</summary>
internal static partial class IngestLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Stream {Uri}: {From} -> {To}")]
    public static partial void StateChanged(ILogger logger, string uri, StreamState from, StreamState to);

    [LoggerMessage(EventId = 2, Level = LogLevel.Warning, Message = "Stream {Uri}: {Kind}: {Error}")]
    public static partial void SourceFailed(ILogger logger, string uri, SourceErrorKind kind, string error);

    [LoggerMessage(EventId = 3, Level = LogLevel.Warning, Message = "Stream {Uri}: no frame for {Timeout}; killing the source")]
    public static partial void Stalled(ILogger logger, string uri, TimeSpan timeout);

    [LoggerMessage(EventId = 4, Level = LogLevel.Information, Message = "Stream {Uri}: reconnecting in {Delay} (attempt {Attempt})")]
    public static partial void BackingOff(ILogger logger, string uri, TimeSpan delay, int attempt);

    [LoggerMessage(EventId = 5, Level = LogLevel.Error, Message = "Stream {Uri}: unexpected source error")]
    public static partial void Unexpected(ILogger logger, string uri, Exception error);
}
