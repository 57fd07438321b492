using System.Buffers;
using System.ComponentModel;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using OpenCvSharp;
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
    private static readonly TimeSpan ExitWait = TimeSpan.FromSeconds(3);

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
        using var killOnCancel = cancellationToken.Register(static p => Kill((Process)p!), process);
        byte[]? buffer = null;
        try
        {
            var stdout = process.StandardOutput.BaseStream;
            var ready = _options.Width > 0 || await TryLearnSizeAsync(process, stderr, cancellationToken).ConfigureAwait(false);
            var (width, height) = _options.Width > 0 || !ready ? (_options.Width, _options.Height) : (stderr.OutputSize.Result.Width, stderr.OutputSize.Result.Height);
            Info = Info with { Width = width, Height = height };
            var length = width * height * 3;
            buffer = ready ? ArrayPool<byte>.Shared.Rent(length) : null;
            var start = _time.GetTimestamp();
            long index = 0;
            while (buffer is not null && await ReadExactlyAsync(stdout, buffer.AsMemory(0, length)).ConfigureAwait(false))
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (index == 0 && stderr.OutputSize.IsCompletedSuccessfully)
                {
                    Info = Info with { Fps = stderr.OutputSize.Result.Fps };
                }
                yield return new Frame(ToMat(buffer, width, height), index++, _time.GetElapsedTime(start), _time.GetUtcNow());
            }
            cancellationToken.ThrowIfCancellationRequested();
            Kill(process);
            await WaitForExitAsync(process).ConfigureAwait(false);
            throw Refused(gate) ?? Ended(process, stderr, index);
        }
        finally
        {
            Kill(process);
            await WaitForExitAsync(process).ConfigureAwait(false);
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
        var info = new ProcessStartInfo(_options.FfmpegPath)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = false,
            UseShellExecute = false,
            CreateNoWindow = true,
        };
        var proxy = gate as EgressProxy;
        // Through the relay, RTSP runs interleaved over the one TCP connection the relay sees.
        var (url, options) = gate is RtspEgressRelay relay ? (relay.Url, _options with { RtspTransport = RtspTransport.Tcp }) : (_url, _options);
        foreach (var arg in FfmpegArguments.Build(url, options, IsListener, proxy?.Address))
        {
            info.ArgumentList.Add(arg);
        }
        if (proxy is not null)
        {
            // Nested opens (HLS segments and keys, redirects) read the variable; no_proxy must not exempt any host.
            info.Environment["http_proxy"] = proxy.Address;
            info.Environment.Remove("no_proxy");
            info.Environment.Remove("NO_PROXY");
        }
        var process = new Process { StartInfo = info };
        process.ErrorDataReceived += (_, e) => stderr.Add(e.Data);
        try
        {
            // The child inherits the starting thread's nice value: the decoder runs at helper priority, as in-process decoding does.
            HelperPriority.Apply();
            process.Start();
        }
        catch (Win32Exception ex)
        {
            process.Dispose();
            throw new SourceException(SourceErrorKind.DependencyMissing,
                $"cannot start ffmpeg ('{_options.FfmpegPath}'): {ex.Message}; install the Debian package 'ffmpeg' or set the ffmpeg path", ex);
        }
        process.BeginErrorReadLine();
        return process;
    }

    private static async Task<bool> TryLearnSizeAsync(Process process, StderrTail stderr, CancellationToken cancellationToken)
    {
        // Raw frames carry no header: without a forced size, wait for ffmpeg to announce its output geometry
        // (or to exit, which the caller reports with its stderr).
        var exited = process.WaitForExitAsync(cancellationToken);
        await Task.WhenAny(stderr.OutputSize, exited).ConfigureAwait(false);
        cancellationToken.ThrowIfCancellationRequested();
        return stderr.OutputSize.IsCompletedSuccessfully;
    }

    private static async Task<bool> ReadExactlyAsync(Stream stream, Memory<byte> buffer)
    {
        var filled = 0;
        while (filled < buffer.Length)
        {
            // No token: cancellation kills the child, which ends the read with EOF.
            var n = await stream.ReadAsync(buffer[filled..]).ConfigureAwait(false);
            if (n == 0)
            {
                return false;
            }
            filled += n;
        }
        return true;
    }

    private static Mat ToMat(byte[] buffer, int width, int height)
    {
        var mat = new Mat(height, width, MatType.CV_8UC3);
        Marshal.Copy(buffer, 0, mat.Data, width * height * 3);
        return mat;
    }

    private SourceException Ended(Process process, StderrTail stderr, long frames)
    {
        var code = process.HasExited ? process.ExitCode.ToString(System.Globalization.CultureInfo.InvariantCulture) : "?";
        var detail = stderr.Summary();
        if (frames > 0)
        {
            // ffmpeg exits 0 when the server goes away: on a live stream any EOF is a disconnect.
            return new SourceException(SourceErrorKind.Unreachable, $"{DisplayUri}: stream ended after {frames} frames (disconnected; ffmpeg exit {code}): {detail}");
        }
        var kind = FfmpegErrors.Classify(stderr.All());
        return new SourceException(kind, $"{DisplayUri}: no frames (ffmpeg exit {code}): {detail}");
    }

    private static void Kill(Process process)
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
        catch (Win32Exception)
        {
            // Exited between the check and the kill.
        }
    }

    private static async Task WaitForExitAsync(Process process)
    {
        using var cts = new CancellationTokenSource(ExitWait);
        try
        {
            await process.WaitForExitAsync(cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Reaped later by the runtime; the kill above has been sent.
        }
        catch (InvalidOperationException)
        {
        }
    }
}
