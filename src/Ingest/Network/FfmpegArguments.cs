using System.Globalization;
using StreamMtl.Ingest.Sources;

namespace StreamMtl.Ingest.Network;

/// <summary>Builds the ffmpeg command line that turns a network stream into raw BGR24 frames on stdout.</summary>
public static class FfmpegArguments
{
    /// <summary>
    /// Arguments for pulling <paramref name="url"/> (or listening on it when <paramref name="listen"/>); http(s) goes through
    /// <paramref name="httpProxy"/> when one is given.
    /// </summary>
    public static IReadOnlyList<string> Build(string url, SourceOptions options, bool listen, string? httpProxy = null)
    {
        var scheme = url[..Math.Max(0, url.IndexOf("://", StringComparison.Ordinal))].ToLowerInvariant();
        var timeoutUs = ((long)options.IoTimeout.TotalMicroseconds).ToString(CultureInfo.InvariantCulture);
        // -loglevel info: the output stream line tells us the frame size when no size is forced.
        var args = new List<string> { "-hide_banner", "-nostdin", "-nostats", "-loglevel", "info" };
        if (scheme is "rtsp" or "rtsps")
        {
            args.AddRange(["-rtsp_transport", options.RtspTransport == RtspTransport.Udp ? "udp" : "tcp"]);
            if (listen)
            {
                // Waiting for a publisher is not a failure; the supervisor bounds it if it wants to.
                args.AddRange(["-rtsp_flags", "listen"]);
            }
            else
            {
                args.AddRange(["-timeout", timeoutUs]);
            }
        }
        else
        {
            // For rtmp/http/srt/udp "-timeout" means different things (rtmp: listen timeout); rw_timeout is generic.
            args.AddRange(["-rw_timeout", timeoutUs]);
        }
        // No "nobuffer": it throws away the packets read while probing, so the first frame waits for the next keyframe
        // (measured on loopback RTSP, 1 s GOP: first frame 1.3 s with it, 0.9 s without; steady-state timing identical).
        args.AddRange(["-fflags", "genpts+discardcorrupt", "-flags", "low_delay", "-analyzeduration", "500000", "-probesize", "1000000"]);
        args.AddRange(["-protocol_whitelist", ProtocolWhitelist(scheme)]);
        if (httpProxy is not null && scheme is ("http" or "https"))
        {
            args.AddRange(["-http_proxy", httpProxy]);
        }
        if (options.KeyframesOnly)
        {
            // A decoder option given before -i: everything but key frames is discarded before decoding.
            args.AddRange(["-skip_frame", "nokey"]);
        }
        args.AddRange(["-i", url, "-an", "-sn", "-dn"]);
        if (options.Width > 0)
        {
            args.AddRange(["-vf", $"scale={options.Width}:{options.Height}"]);
        }
        // Passthrough: rawvideo would otherwise get constant-rate duplication of late frames.
        args.AddRange(["-fps_mode", "passthrough", "-pix_fmt", "bgr24", "-f", "rawvideo", "pipe:1"]);
        return args;
    }

    /// <summary>
    /// Arguments for decoding the local file <paramref name="path"/> (the file protocol only, one decoding thread: a box
    /// decodes many cameras at once), scaled to the options' size when one is given.
    /// </summary>
    public static IReadOnlyList<string> BuildFile(string path, SourceOptions options)
    {
        var args = new List<string> { "-hide_banner", "-nostdin", "-nostats", "-loglevel", "info", "-protocol_whitelist", "file", "-threads", "1" };
        // "file:" so that a path that looks like a URL or an option is read as a path.
        args.AddRange(["-i", "file:" + Path.GetFullPath(path), "-an", "-sn", "-dn", "-filter_threads", "1"]);
        if (options.Width > 0)
        {
            // Area averaging when shrinking, as the in-process path's Downscale.Area.
            args.AddRange(["-vf", $"scale={options.Width}:{options.Height}:flags=area"]);
        }
        args.AddRange(["-fps_mode", "passthrough", "-pix_fmt", "bgr24", "-f", "rawvideo", "pipe:1"]);
        return args;
    }

    /// <summary>
    /// The protocols ffmpeg may open for a scheme, nested opens included. Never <c>file</c>: an HLS playlist could name
    /// <c>file:///etc/passwd</c>. http and https get the same set because an HLS playlist on either may list https (or
    /// AES-128 <c>crypto</c>) segments; <c>httpproxy</c> is how https reaches the egress proxy (CONNECT).
    /// </summary>
    public static string ProtocolWhitelist(string scheme) => scheme switch
    {
        "http" or "https" => "http,https,tls,tcp,crypto,httpproxy",
        "rtsp" => "rtsp,rtp,tcp,udp",
        "rtsps" => "rtsp,rtsps,rtp,tcp,udp,tls",
        "rtmp" or "rtmps" => "rtmp,rtmps,tcp,tls",
        "srt" => "srt,udp",
        "udp" => "udp",
        _ => scheme,
    };
}
