using System.Buffers;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using StreamMtl.Ingest.Frames;
using StreamMtl.Ingest.Sources;

namespace StreamMtl.Ingest.Network;

/// <summary>
/// A network stream (RTSP pull or listen, RTMP, HTTP, SRT, UDP) decoded by an ffmpeg child process that writes
/// fixed-size BGR24 frames to stdout. The child is killed when reading stops for any reason. With an egress policy
/// (<see cref="SourceOptions.Egress"/>), http(s) runs through a per-read <see cref="EgressProxy"/> that checks every
/// target ffmpeg asks for, rtsp through an <see cref="RtspEgressRelay"/> (interleaved TCP, pinned address, redirects
/// refused); other schemes have their URL's host checked once before ffmpeg starts.
/// </summary>
public sealed class FfmpegFrameSource : IFrameSource
{
    private readonly string _url;
    private readonly SourceOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger? _logger;
    private int _processId;
    private StderrTail? _stderr;

    public FfmpegFrameSource(string url, SourceOptions? options = null, bool listen = false, TimeProvider? time = null, ILogger? logger = null)
    {
        _url = url;
        _options = options ?? SourceOptions.Default;
        _time = time ?? TimeProvider.System;
        _logger = logger;
        IsListener = listen;
        DisplayUri = UriRedactor.Redact(url);
        Info = new SourceInfo(_options.Width, _options.Height, 0, IsLive: true);
    }

    public string DisplayUri { get; }

    public SourceInfo Info { get; private set; }

    /// <summary>A live stream keeps its connection while idle and decodes key frames only.</summary>
    public IdleMode WhenIdle => IdleMode.Reconnect;

    /// <summary>True when the source waits for a publisher to push to it (RTSP listen mode).</summary>
    public bool IsListener { get; }

    /// <summary>The running child's process id, 0 when none runs.</summary>
    public int ProcessId => Volatile.Read(ref _processId);

    /// <summary>The last lines ffmpeg printed (credentials redacted), for error reports.</summary>
    public IReadOnlyList<string> LastStderrLines => _stderr?.Lines() ?? [];

    public async IAsyncEnumerable<Frame> ReadAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var stderr = new StderrTail();
        _stderr = stderr;
        await using var gate = await OpenEgressAsync(cancellationToken).ConfigureAwait(false);
        using var process = Start(stderr, gate);
        Volatile.Write(ref _processId, process.Id);
        // Killing the child is what unblocks a pipe read stuck on a stalled server.
        using var killOnCancel = cancellationToken.Register(static p => FfmpegChild.Kill((Process)p!), process);
        byte[]? buffer = null;
        try
        {
            var stdout = process.StandardOutput.BaseStream;
            var ready = _options.Width > 0 || await FfmpegChild.TryLearnSizeAsync(process, stderr, cancellationToken).ConfigureAwait(false);
            var (width, height) = _options.Width > 0 || !ready ? (_options.Width, _options.Height) : (stderr.OutputSize.Result.Width, stderr.OutputSize.Result.Height);
            Info = Info with { Width = width, Height = height };
            var length = width * height * 3;
            buffer = ready ? ArrayPool<byte>.Shared.Rent(length) : null;
            var start = _time.GetTimestamp();
            long index = 0;
            while (buffer is not null && await FfmpegChild.ReadExactlyAsync(stdout, buffer.AsMemory(0, length)).ConfigureAwait(false))
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (index == 0 && stderr.OutputSize.IsCompletedSuccessfully)
                {
                    Info = Info with { Fps = stderr.OutputSize.Result.Fps };
                }
                yield return new Frame(FfmpegChild.ToMat(buffer, width, height), index++, _time.GetElapsedTime(start), _time.GetUtcNow());
            }
            cancellationToken.ThrowIfCancellationRequested();
            await FfmpegChild.StopAsync(process).ConfigureAwait(false);
            throw Refused(gate) ?? Ended(process, stderr, index);
        }
        finally
        {
            await FfmpegChild.StopAsync(process).ConfigureAwait(false);
            Volatile.Write(ref _processId, 0);
            if (buffer is not null)
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    /// <summary>
    /// The gate this read goes through, or null: the proxy for http(s), the relay for rtsp. Every scheme's own host is
    /// checked here first; rtsps, rtmp, srt and udp only here, once (ffmpeg resolves their host again).
    /// </summary>
    private async Task<EgressGate?> OpenEgressAsync(CancellationToken cancellationToken)
    {
        if (_options.Egress is not { } policy || IsListener)
        {
            return null;
        }
        var target = EgressTarget.Of(_url) ?? throw new SourceException(SourceErrorKind.InvalidUri, $"malformed network URI: {DisplayUri}");
        if (Scheme is "http" or "https")
        {
            return EgressProxy.Start(policy, DisplayUri, _logger);
        }
        var decision = await policy.CheckAsync(target.Host, target.Port, cancellationToken).ConfigureAwait(false);
        if (!decision.IsAllowed)
        {
            throw new SourceException(decision.IsTransient ? SourceErrorKind.Unreachable : SourceErrorKind.Forbidden,
                $"{DisplayUri}: egress refused: {decision.Reason}");
        }
        return Scheme is "rtsp" ? RtspEgressRelay.Start(policy, _url, DisplayUri, _logger) : null;
    }

    private string Scheme => _url[..Math.Max(0, _url.IndexOf("://", StringComparison.Ordinal))].ToLowerInvariant();

    /// <summary>A refusal by the proxy explains the failure; ffmpeg's stderr is left out, as it may quote a target's answer.</summary>
    private SourceException? Refused(EgressGate? gate)
    {
        if (gate?.Refusals is not [var first, ..])
        {
            return null;
        }
        var via = EgressTarget.Of(_url) == (first.Host, first.Port) ? "" : " (reached through a redirect or playlist)";
        // A name that did not resolve may resolve later: retried (Unreachable) rather than failed for good.
        return new SourceException(first.Transient ? SourceErrorKind.Unreachable : SourceErrorKind.Forbidden, $"{DisplayUri}: egress refused: {first.Reason}{via}");
    }

    private Process Start(StderrTail stderr, EgressGate? gate)
    {
        var proxy = gate as EgressProxy;
        // Through the relay, RTSP runs interleaved over the one TCP connection the relay sees.
        var (url, options) = gate is RtspEgressRelay relay ? (relay.Url, _options with { RtspTransport = RtspTransport.Tcp }) : (_url, _options);
        // Nested opens (HLS segments and keys, redirects) read the variable; no_proxy must not exempt any host.
        var environment = proxy is null ? null : new Dictionary<string, string?> { ["http_proxy"] = proxy.Address, ["no_proxy"] = null, ["NO_PROXY"] = null };
        return FfmpegChild.Start(_options.FfmpegPath, FfmpegArguments.Build(url, options, IsListener, proxy?.Address), stderr, environment);
    }

    private SourceException Ended(Process process, StderrTail stderr, long frames)
    {
        var code = FfmpegChild.ExitCode(process);
        var detail = stderr.Summary();
        if (frames > 0)
        {
            // ffmpeg exits 0 when the server goes away: on a live stream any EOF is a disconnect.
            return new SourceException(SourceErrorKind.Unreachable, $"{DisplayUri}: stream ended after {frames} frames (disconnected; ffmpeg exit {code}): {detail}");
        }
        var kind = FfmpegErrors.Classify(stderr.All());
        return new SourceException(kind, $"{DisplayUri}: no frames (ffmpeg exit {code}): {detail}");
    }
}
