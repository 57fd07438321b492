using System.Collections.Concurrent;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StreamMtl.Ingest.Sources;
using StreamMtl.Server.Configuration;
using StreamMtl.Pipeline.Inference;
using StreamMtl.Server.Metrics;
using StreamMtl.Server.Results;
using StreamMtl.Server.Security;

namespace StreamMtl.Server.Streams;

/// <summary>The running camera streams: added from configuration at startup or through the API, removed at run time, all stopped on shutdown.</summary>
public sealed partial class StreamRegistry : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, CameraStream> _streams = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();
    private readonly FrameSourceFactory _factory;
    private readonly InferenceEngine _engine;
    private readonly ServerMetrics _metrics;
    private readonly ServiceOptions _options;
    private readonly SourcePolicy _policy;
    private readonly TimeProvider _time;
    private readonly ILoggerFactory _loggers;
    private readonly ILogger _logger;
    private bool _closed;

    public StreamRegistry(InferenceEngine engine, ServerMetrics metrics, IOptions<ServiceOptions> options, TimeProvider time, ILoggerFactory loggers)
    {
        _engine = engine;
        _metrics = metrics;
        _options = options.Value;
        _policy = new SourcePolicy(_options.Security);
        _time = time;
        _loggers = loggers;
        _logger = loggers.CreateLogger<StreamRegistry>();
        _factory = new FrameSourceFactory(time);
    }

    public IReadOnlyCollection<CameraStream> All => _streams.Values.OrderBy(s => s.Id, StringComparer.Ordinal).ToList();

    public CameraStream? Find(string id) => _streams.GetValueOrDefault(id);

    /// <summary>Adds and starts a stream; untrusted (API) URIs must pass the source allowlist. Throws RpcException with the status to return.</summary>
    public CameraStream Add(StreamDefinition definition, bool trusted)
    {
        if (!StreamIds.IsValid(definition.Id))
        {
            throw Fail(StatusCode.InvalidArgument, $"stream id '{definition.Id}' must be 1..64 characters of [A-Za-z0-9_.-]");
        }
        if (!trusted && _policy.Check(definition.SourceUri) is { } denied)
        {
            throw Fail(StatusCode.InvalidArgument, "source not allowed: " + denied);
        }
        if ((definition.Tasks & ~_engine.Model.Tasks) != Pipeline.Model.TaskSet.None)
        {
            throw Fail(StatusCode.InvalidArgument, $"the model does not compute {ApiTasks.Describe(definition.Tasks & ~_engine.Model.Tasks)}");
        }
        var reuseErrors = definition.Reuse.Validate();
        if (reuseErrors.Count > 0)
        {
            throw Fail(StatusCode.InvalidArgument, "invalid reuse settings: " + string.Join("; ", reuseErrors));
        }
        try
        {
            // Parses the URI (nothing is opened) so a bad one fails the call rather than the stream.
            var probe = _factory.Create(definition.SourceUri, new SourceOptions { Width = definition.Width, Height = definition.Height });
            probe.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
        catch (SourceException e) when (e.Kind is SourceErrorKind.InvalidUri or SourceErrorKind.UnsupportedScheme)
        {
            throw Fail(StatusCode.InvalidArgument, e.Message);
        }
        CameraStream stream;
        lock (_gate)
        {
            if (_closed)
            {
                throw Fail(StatusCode.Unavailable, "the server is shutting down");
            }
            if (_streams.ContainsKey(definition.Id))
            {
                throw Fail(StatusCode.AlreadyExists, $"stream '{definition.Id}' exists");
            }
            if (_streams.Count >= _options.Limits.MaxStreams)
            {
                throw Fail(StatusCode.ResourceExhausted, $"the server already runs {_options.Limits.MaxStreams} streams (Limits:MaxStreams)");
            }
            stream = new CameraStream(definition, _factory, _engine, _metrics, _options.Pipeline, _time, _loggers.CreateLogger<CameraStream>())
            {
                MaxMessageBytes = _options.Limits.MaxSendMessageBytes,
            };
            _streams[definition.Id] = stream;
            _metrics.Streams.Set(_streams.Count);
        }
        stream.Start();
        Log.Added(_logger, definition.Id, stream.DisplayUri, ApiTasks.Describe(definition.Tasks));
        return stream;
    }

    public async Task<bool> RemoveAsync(string id)
    {
        if (!_streams.TryRemove(id, out var stream))
        {
            return false;
        }
        _metrics.Streams.Set(_streams.Count);
        await stream.DisposeAsync().ConfigureAwait(false);
        _metrics.Forget(id);
        Log.Removed(_logger, id);
        return true;
    }

    /// <summary>Stops every stream (in parallel) and refuses new ones.</summary>
    public async ValueTask DisposeAsync()
    {
        lock (_gate)
        {
            _closed = true;
        }
        await Task.WhenAll(_streams.Keys.ToList().Select(RemoveAsync)).ConfigureAwait(false);
    }

    private static RpcException Fail(StatusCode code, string message) => new(new Status(code, UriRedactor.Redact(message)));

    private static partial class Log
    {
        [LoggerMessage(20, LogLevel.Information, "Stream {Stream} added: {Source} ({Tasks})")]
        public static partial void Added(ILogger logger, string stream, string source, string tasks);

        [LoggerMessage(21, LogLevel.Information, "Stream {Stream} removed")]
        public static partial void Removed(ILogger logger, string stream);
    }
}
