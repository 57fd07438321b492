using Microsoft.Extensions.Logging;

namespace StreamMtl.Ingest.Network;

/// <summary>Source-generated log messages of the egress proxy (event ids 20-29); hosts are logged, never what a target answered.</summary>
internal static partial class EgressLog
{
    [LoggerMessage(EventId = 20, Level = LogLevel.Warning, Message = "Egress refused for {Source}: {Host}:{Port}: {Reason}")]
    public static partial void Refused(ILogger logger, string source, string host, int port, string reason);

    [LoggerMessage(EventId = 21, Level = LogLevel.Debug, Message = "Egress for {Source}: {Method} {Host}:{Port}")]
    public static partial void Relaying(ILogger logger, string source, string method, string host, int port);

    [LoggerMessage(EventId = 22, Level = LogLevel.Debug, Message = "Egress for {Source}: bad request ({Problem})")]
    public static partial void BadRequest(ILogger logger, string source, string problem);

    [LoggerMessage(EventId = 23, Level = LogLevel.Debug, Message = "Egress for {Source}: {Host}:{Port} not reachable ({Error})")]
    public static partial void ConnectFailed(ILogger logger, string source, string host, int port, string error);

    [LoggerMessage(EventId = 24, Level = LogLevel.Warning, Message = "Egress for {Source}: over {Max} concurrent connections; refusing one")]
    public static partial void TooManyConnections(ILogger logger, string source, int max);
}
