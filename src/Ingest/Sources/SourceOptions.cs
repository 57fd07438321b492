namespace StreamMtl.Ingest.Sources;

/// <summary>How a finite source (a file) is paced.</summary>
public enum Pacing
{
    /// <summary>At the file's own frame rate, as a camera would deliver it (the default for serving).</summary>
    Live,
    /// <summary>As fast as frames decode (benchmarks, evaluation, soak tests).</summary>
    Batch,
}

/// <summary>Lower transport for RTSP pulls.</summary>
public enum RtspTransport
{
    Tcp,
    Udp,
}

/// <summary>Which decoder reads a video file (<see cref="SourceOptions.FileDecoder"/>, URI parameter <c>decoder</c>).</summary>
public enum FileDecoder
{
    /// <summary>OpenCV's VideoCapture with its bundled FFmpeg, in process (no child process; needs nothing installed).</summary>
    OpenCv,
    /// <summary>
    /// The system ffmpeg as a child process, scaling there when the source gives a size: its decoders and colour
    /// conversion use SIMD, where the FFmpeg bundled with OpenCvSharp's runtime has none, but every frame crosses a pipe
    /// (docs/ingest.md, "Files: two decoders", for what it buys in the service).
    /// </summary>
    Ffmpeg,
}

/// <summary>Per-source settings; URI fragment parameters (<c>#width=320&amp;loop=1</c>) override them.</summary>
public sealed record SourceOptions
{
    public static SourceOptions Default { get; } = new();

    /// <summary>Output width in pixels; 0 keeps the source's own size.</summary>
    public int Width { get; init; }

    /// <summary>Output height in pixels; 0 keeps the source's own size.</summary>
    public int Height { get; init; }

    public Pacing Pacing { get; init; } = Pacing.Live;

    /// <summary>Restart a file from its first frame when it ends.</summary>
    public bool Loop { get; init; }

    public RtspTransport RtspTransport { get; init; } = RtspTransport.Tcp;

    /// <summary>Socket read/connect timeout handed to ffmpeg; the supervisor's stall timeout still applies.</summary>
    public TimeSpan IoTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Decode key frames only (a live stream nobody watches: the connection stays, the decoding cost goes).</summary>
    public bool KeyframesOnly { get; init; }

    /// <summary>Which decoder reads a video file: OpenCV's in process, or the system ffmpeg in a child process.</summary>
    public FileDecoder FileDecoder { get; init; } = FileDecoder.OpenCv;

    /// <summary>The ffmpeg executable for network sources and the ffmpeg file decoder; a bare name is looked up on PATH.</summary>
    public string FfmpegPath { get; init; } = "ffmpeg";

    /// <summary>
    /// Checks every network connection a source makes (http(s) through a loopback proxy, other schemes once up front);
    /// null for trusted sources (from configuration), which connect anywhere.
    /// </summary>
    public IEgressPolicy? Egress { get; init; }

    /// <summary>All problems with these options, empty when valid.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (Width < 0 || Height < 0 || Width > 16384 || Height > 16384)
        {
            errors.Add($"width/height must be within 0..16384, got {Width}x{Height}");
        }
        if ((Width == 0) != (Height == 0))
        {
            errors.Add("width and height must be given together");
        }
        if (Width % 2 != 0 || Height % 2 != 0)
        {
            errors.Add($"width and height must be even, got {Width}x{Height}");
        }
        if (IoTimeout <= TimeSpan.Zero)
        {
            errors.Add("io timeout must be positive");
        }
        if (string.IsNullOrWhiteSpace(FfmpegPath))
        {
            errors.Add("ffmpeg path must not be empty");
        }
        return errors;
    }
}
