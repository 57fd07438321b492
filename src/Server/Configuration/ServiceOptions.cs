using StreamMtl.Pipeline.Streams;
using StreamMtl.Pipeline.Inference;
using StreamMtl.Pipeline.Model;


namespace StreamMtl.Server.Configuration;

/// <summary>The service's configuration (section "StreamMtl"), validated at startup with every error listed.</summary>
public sealed record ServiceOptions
{
    public const string Section = "StreamMtl";

    public ModelOptions Model { get; init; } = new();
    public EndpointOptions Endpoints { get; init; } = new();
    public LimitOptions Limits { get; init; } = new();
    public PipelineOptions Pipeline { get; init; } = new();
    public SecurityOptions Security { get; init; } = new();
    public ClusterNodeOptions Cluster { get; init; } = new();

    /// <summary>Streams started with the service (trusted: not subject to the source allowlist).</summary>
    public List<StreamDeclaration> Streams { get; init; } = [];

    /// <summary>False starts none of <see cref="Streams"/> (serve --no-camera; tests).</summary>
    public bool StartDeclaredStreams { get; init; } = true;

    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        errors.AddRange(Model.Validate().Select(e => "Model: " + e));
        errors.AddRange(Endpoints.Validate().Select(e => "Endpoints: " + e));
        errors.AddRange(Limits.Validate().Select(e => "Limits: " + e));
        errors.AddRange(Pipeline.Validate().Select(e => "Pipeline: " + e));
        errors.AddRange(Security.Validate().Select(e => "Security: " + e));
        errors.AddRange(Cluster.Validate().Select(e => "Cluster: " + e));
        for (int i = 0; i < Streams.Count; i++)
        {
            errors.AddRange(Streams[i].Validate().Select(e => $"Streams[{i}]: {e}"));
        }
        foreach (var dup in Streams.GroupBy(s => s.Id, StringComparer.Ordinal).Where(g => g.Count() > 1))
        {
            errors.Add($"Streams: id '{dup.Key}' declared {dup.Count()} times");
        }
        if (StartDeclaredStreams && Streams.Count > Limits.MaxStreams)
        {
            errors.Add($"Streams: {Streams.Count} declared but Limits:MaxStreams is {Limits.MaxStreams}");
        }
        return errors;
    }
}

/// <summary>Where the service listens: gRPC (HTTP/2, optional TLS) and a separate HTTP/1.1 port for /metrics, /healthz, /readyz.</summary>
public sealed record EndpointOptions
{
    public string Address { get; init; } = "127.0.0.1";
    public int GrpcPort { get; init; } = 50051;
    public int MetricsPort { get; init; } = 9464;

    /// <summary>PEM certificate and key for gRPC over TLS; both or neither.</summary>
    public string? TlsCertificatePath { get; init; }
    public string? TlsKeyPath { get; init; }

    public bool Tls => !string.IsNullOrEmpty(TlsCertificatePath);

    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (!System.Net.IPAddress.TryParse(Address, out _) && Address is not ("localhost" or "*")) errors.Add($"Address must be an IP address, localhost or *, got '{Address}'");
        if (GrpcPort is < 0 or > 65535) errors.Add($"GrpcPort must be in 0..65535, got {GrpcPort}");
        if (MetricsPort is < 0 or > 65535) errors.Add($"MetricsPort must be in 0..65535, got {MetricsPort}");
        if (GrpcPort != 0 && GrpcPort == MetricsPort) errors.Add("GrpcPort and MetricsPort must differ");
        if (string.IsNullOrEmpty(TlsCertificatePath) != string.IsNullOrEmpty(TlsKeyPath)) errors.Add("TlsCertificatePath and TlsKeyPath go together");
        if (!string.IsNullOrEmpty(TlsCertificatePath) && !File.Exists(TlsCertificatePath)) errors.Add($"TlsCertificatePath not found: {TlsCertificatePath}");
        if (!string.IsNullOrEmpty(TlsKeyPath) && !File.Exists(TlsKeyPath)) errors.Add($"TlsKeyPath not found: {TlsKeyPath}");
        return errors;
    }
}

/// <summary>Resource limits; exceeding one is ResourceExhausted (counts) or InvalidArgument (sizes).</summary>
public sealed record LimitOptions
{
    public int MaxStreams { get; init; } = 16;
    public int MaxSubscribersPerStream { get; init; } = 8;
    public int MaxProcessSessions { get; init; } = 4;

    /// <summary>Largest message the server sends; the default matches default gRPC clients (4 MB).</summary>
    public int MaxSendMessageBytes { get; init; } = 4 * 1024 * 1024;

    /// <summary>Largest message a client may send (Process frames): 1080p raw BGR is 6.2 MB.</summary>
    public int MaxReceiveMessageBytes { get; init; } = 16 * 1024 * 1024;

    public int MaxOutputWidth { get; init; } = 1920;
    public int MaxOutputHeight { get; init; } = 1080;
    /// <summary>Largest source resolution an API-added stream may ask for (size, or a synthetic camera's w and h); configured streams are trusted.</summary>
    public int MaxSourceWidth { get; init; } = 1920;
    public int MaxSourceHeight { get; init; } = 1080;

    /// <summary>Highest frame rate an API-added stream may ask for (max_fps, or a synthetic camera's fps).</summary>
    public double MaxSourceFps { get; init; } = 30;

    public int MaxClientFrameWidth { get; init; } = 3840;
    public int MaxClientFrameHeight { get; init; } = 2160;

    /// <summary>Source pixels per second (width x height x fps / 1e6) all streams together may cost; see Security/StreamCost.</summary>
    public double NodeMegapixelsPerSecond { get; init; } = 250;

    /// <summary>Source pixels per second the API streams of one client (API key, else IP address) may cost.</summary>
    public double ClientMegapixelsPerSecond { get; init; } = 125;

    /// <summary>Inference task-frames per second (fps x tasks) all streams together may cost.</summary>
    public double NodeTaskFramesPerSecond { get; init; } = 360;

    /// <summary>Inference task-frames per second the API streams of one client may cost.</summary>
    public double ClientTaskFramesPerSecond { get; init; } = 180;

    /// <summary>Concurrent Process calls one client may hold (of Limits:MaxProcessSessions in all).</summary>
    public int MaxProcessSessionsPerClient { get; init; } = 2;

    /// <summary>AddStream, RemoveStream, Subscribe and Process calls one client may start per second, sustained.</summary>
    public double CallsPerSecondPerClient { get; init; } = 10;

    /// <summary>Such calls one client may start in a burst before the rate applies.</summary>
    public int CallBurstPerClient { get; init; } = 20;

    /// <summary>Web view WebSocket connections open at once (each page holds one); more are refused with HTTP 429.</summary>
    public int MaxWebViewers { get; init; } = 8;

    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (MaxStreams < 1) errors.Add($"MaxStreams must be >= 1, got {MaxStreams}");
        if (MaxSubscribersPerStream < 1) errors.Add($"MaxSubscribersPerStream must be >= 1, got {MaxSubscribersPerStream}");
        if (MaxProcessSessions < 0) errors.Add($"MaxProcessSessions must be >= 0, got {MaxProcessSessions}");
        if (MaxSendMessageBytes < 64 * 1024) errors.Add($"MaxSendMessageBytes must be >= 65536, got {MaxSendMessageBytes}");
        if (MaxReceiveMessageBytes < 64 * 1024) errors.Add($"MaxReceiveMessageBytes must be >= 65536, got {MaxReceiveMessageBytes}");
        if (MaxOutputWidth is < 16 or > 8192 || MaxOutputHeight is < 16 or > 8192) errors.Add("MaxOutputWidth/Height must be in 16..8192");
        if (MaxSourceWidth is < 16 or > 8192 || MaxSourceHeight is < 16 or > 8192) errors.Add("MaxSourceWidth/Height must be in 16..8192");
        if (!(MaxSourceFps is > 0 and <= 1000)) errors.Add($"MaxSourceFps must be in (0, 1000], got {MaxSourceFps}");
        if (MaxClientFrameWidth is < 16 or > 8192 || MaxClientFrameHeight is < 16 or > 8192) errors.Add("MaxClientFrameWidth/Height must be in 16..8192");
        if (!(NodeMegapixelsPerSecond > 0) || !(ClientMegapixelsPerSecond > 0) || !(NodeTaskFramesPerSecond > 0) || !(ClientTaskFramesPerSecond > 0))
        {
            errors.Add("Node/ClientMegapixelsPerSecond and Node/ClientTaskFramesPerSecond must be positive");
        }
        if (MaxProcessSessionsPerClient < 0) errors.Add($"MaxProcessSessionsPerClient must be >= 0, got {MaxProcessSessionsPerClient}");
        if (!(CallsPerSecondPerClient is > 0 and <= 100000) || CallBurstPerClient is < 1 or > 100000)
        {
            errors.Add("CallsPerSecondPerClient must be in (0, 100000] and CallBurstPerClient in 1..100000");
        }
        if (MaxWebViewers is < 0 or > 1000) errors.Add($"MaxWebViewers must be in 0..1000, got {MaxWebViewers}");
        return errors;
    }
}

/// <summary>API keys and the allowlist for client-supplied source URIs.</summary>
public sealed record SecurityOptions
{
    /// <summary>When non-empty, every gRPC call (except health) needs one of these in the <see cref="ApiKeyHeader"/> metadata.</summary>
    public string[] ApiKeys { get; init; } = [];
    public string ApiKeyHeader { get; init; } = "x-api-key";

    /// <summary>Schemes clients may use in AddStream ("file" covers plain paths, "v4l2" covers /dev/video*).</summary>
    public string[]? AllowedSchemes { get; init; }

    /// <summary>
    /// Hosts network sources may reach: exact names/IPs or "*.example.com", each optionally with ":port" ("127.0.0.1:8554",
    /// "[::1]:8554"); "*" for any. A name resolving to an internal address is refused unless that address is listed. Empty = none.
    /// </summary>
    public string[] AllowedHosts { get; init; } = [];

    /// <summary>Directories (and devices) file sources may read below; empty = none.</summary>
    public string[] AllowedDirectories { get; init; } = [];

    public static IReadOnlyList<string> DefaultSchemes { get; } = ["synthetic", "file", "v4l2", "rtsp", "rtsps", "rtmp", "rtmps", "http", "https", "srt", "udp"];

    public IReadOnlyList<string> EffectiveSchemes => AllowedSchemes ?? DefaultSchemes;

    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (ApiKeys.Any(k => k.Length < 16)) errors.Add("ApiKeys must be at least 16 characters each");
        if (string.IsNullOrWhiteSpace(ApiKeyHeader) || ApiKeyHeader != ApiKeyHeader.ToLowerInvariant()) errors.Add("ApiKeyHeader must be a lower-case metadata key");
        foreach (var dir in AllowedDirectories.Where(d => !System.IO.Path.IsPathFullyQualified(d)))
        {
            errors.Add($"AllowedDirectories entries must be absolute, got '{dir}'");
        }
        return errors;
    }
}

/// <summary>A stream declared in configuration.</summary>
public sealed record StreamDeclaration
{
    public string Id { get; init; } = "";
    public string Source { get; init; } = "";
    public string[] Tasks { get; init; } = [];
    public bool AlwaysOn { get; init; } = true;
    public double MaxFps { get; init; }
    // A fresh instance: the configuration binder writes into existing objects, and must never touch ReuseSettings.Default.
    public ReuseSettings Reuse { get; init; } = new();

    /// <summary>How this stream's source is watched and reconnected; unset values keep the defaults.</summary>
    public ReconnectOptions Reconnect { get; init; } = new();

    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (!StreamIds.IsValid(Id)) errors.Add($"Id '{Id}' must be {StreamIds.Rule}");
        errors.AddRange(Reconnect.Validate().Select(e => "Reconnect: " + e));
        if (string.IsNullOrWhiteSpace(Source)) errors.Add("Source is required");
        foreach (var task in Tasks.Where(t => !StreamMtl.Pipeline.Model.VisionTasks.TryParse(t, out _)))
        {
            errors.Add($"unknown task '{task}' (segmentation, depth, normals)");
        }
        if (MaxFps < 0 || double.IsNaN(MaxFps)) errors.Add($"MaxFps must be >= 0, got {MaxFps}");
        errors.AddRange(Reuse.Validate().Select(e => "Reuse: " + e));
        return errors;
    }
}
