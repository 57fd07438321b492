using StreamMtl.Ingest.Supervision;
using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using StreamMtl.Ingest.Sources;
using StreamMtl.Pipeline.Inference;
using StreamMtl.Pipeline.Model;
using StreamMtl.Pipeline.Results;

namespace StreamMtl.Pipeline.Streams;

/// <summary>Limits the registry enforces and what it hands each stream it starts.</summary>
public sealed record RegistryOptions(int MaxStreams, int MaxMessageBytes, Func<EncodedResult, int> MessageSize);

/// <summary>
/// The running camera streams: added from configuration at startup or through the API, removed at run time, all stopped
/// on shutdown. Definitions arrive validated (ids, tasks, reuse settings, the source allowlist: the door's rules); what
/// only the registry knows (duplicates, the stream limit, shutdown, a URI no source understands) comes back as a
/// <see cref="Failure"/>.
/// </summary>
public sealed partial class StreamRegistry : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, CameraStream> _streams = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();
    private readonly FrameSourceFactory _factory;
    private readonly InferenceEngine _engine;
    private readonly IStreamMetrics _metrics;
    private readonly RegistryOptions _options;
    private readonly PipelineOptions _pipeline;
    private readonly TimeProvider _time;
    private readonly ILoggerFactory _loggers;
    private readonly ILogger _logger;
    private bool _closed;

    public StreamRegistry(InferenceEngine engine, FrameSourceFactory factory, IStreamMetrics metrics, RegistryOptions options, PipelineOptions pipeline,
        TimeProvider time, ILoggerFactory loggers)
    {
        _engine = engine;
        _factory = factory;
        _metrics = metrics;
        _options = options;
        _pipeline = pipeline;
        _time = time;
        _loggers = loggers;
        _logger = loggers.CreateLogger<StreamRegistry>();
    }

    public IReadOnlyCollection<CameraStream> All => _streams.Values.OrderBy(s => s.Id, StringComparer.Ordinal).ToList();

    public CameraStream? Find(string id) => _streams.GetValueOrDefault(id);

    /// <summary>Adds and starts a stream; the failure says why not.</summary>
    public async Task<(CameraStream? Stream, Failure? Failure)> AddAsync(StreamDefinition definition)
    {
        try
        {
            // Parses the URI (nothing is opened) so a bad one fails the call rather than the stream.
            var probe = _factory.Create(definition.SourceUri, new SourceOptions { Width = definition.Width, Height = definition.Height, Egress = definition.Egress });
            await probe.DisposeAsync().ConfigureAwait(false);
        }
        catch (SourceException e) when (e.Kind is SourceErrorKind.InvalidUri or SourceErrorKind.UnsupportedScheme)
        {
            return (null, Fail(FailureKind.InvalidArgument, e.Message));
        }
        CameraStream stream;
        lock (_gate)
        {
            if (_closed)
            {
                return (null, Fail(FailureKind.Unavailable, "the server is shutting down"));
            }
            if (_streams.ContainsKey(definition.Id))
            {
                return (null, Fail(FailureKind.AlreadyExists, $"stream '{definition.Id}' exists"));
            }
            if (_streams.Count >= _options.MaxStreams)
            {
                return (null, Fail(FailureKind.ResourceExhausted, $"the server already runs {_options.MaxStreams} streams (Limits:MaxStreams)"));
            }
            stream = new CameraStream(definition, _factory, _engine, _metrics, _pipeline, _time, _loggers.CreateLogger<CameraStream>(),
                _options.MaxMessageBytes, _options.MessageSize);
            _streams[definition.Id] = stream;
            _metrics.StreamCount(_streams.Count);
        }
        stream.Start();
        Log.Added(_logger, definition.Id, stream.DisplayUri, definition.Tasks.Describe());
        return (stream, null);
    }

    public async Task<bool> RemoveAsync(string id)
    {
        if (!_streams.TryRemove(id, out var stream))
        {
            return false;
        }
        _metrics.StreamCount(_streams.Count);
        await stream.DisposeAsync().ConfigureAwait(false);
        _metrics.StreamClosed(id);
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

    private static Failure Fail(FailureKind kind, string message) => new(kind, UriRedactor.Redact(message));

    private static partial class Log
    {
        [LoggerMessage(20, LogLevel.Information, "Stream {Stream} added: {Source} ({Tasks})")]
        public static partial void Added(ILogger logger, string stream, string source, string tasks);

        [LoggerMessage(21, LogLevel.Information, "Stream {Stream} removed")]
        public static partial void Removed(ILogger logger, string stream);
    }
}
