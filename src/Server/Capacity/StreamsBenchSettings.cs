namespace StreamMtl.Server.Capacity;

/// <summary>
/// One capacity run: the service (host, streammtl.dll, extra serve arguments) with <see cref="Streams"/> copies of one source,
/// each always on with one subscriber; figures are taken over <see cref="Duration"/> after <see cref="Warmup"/>.
/// </summary>
public sealed record StreamsBenchSettings
{
    /// <summary>The dotnet host that runs <see cref="ServerDll"/>.</summary>
    public required string DotnetHost { get; init; }

    public required string ServerDll { get; init; }

    /// <summary>The source URI every stream reads (a file looped live, an RTSP URL, a synthetic camera).</summary>
    public required string Source { get; init; }

    public required int Streams { get; init; }

    /// <summary>The source's own frame rate, what "every frame" means; null = judge by the frames the service ingested.</summary>
    public double? SourceFps { get; init; }

    /// <summary>Every frame computed in full (Reuse:Dense) instead of temporal reuse.</summary>
    public bool Dense { get; init; }

    /// <summary>The subscribers ask for unchanged outputs without data (Encoding.skip_unchanged).</summary>
    public bool SkipUnchanged { get; init; }

    /// <summary>The subscribers ask for stored (uncompressed) PNGs (Encoding.png_compression NONE).</summary>
    public bool StoredPngs { get; init; }

    /// <summary>What the subscribers ask for: the default encoding unless an option above is set.</summary>
    public Api.V1.Encoding? SubscriberEncoding() => SkipUnchanged || StoredPngs
        ? new Api.V1.Encoding { SkipUnchanged = SkipUnchanged, PngCompression = StoredPngs ? Api.V1.PngCompression.None : Api.V1.PngCompression.Unspecified }
        : null;

    /// <summary>
    /// The synthetic camera every stream reads, when the subscribers' results are to be scored against its truth after the run
    /// (<see cref="DeliveredTruth"/>); null: not scored.
    /// </summary>
    public Ingest.Synthetic.SyntheticSpec? ScoreTruth { get; init; }

    /// <summary>Results kept per stream for scoring: twice the window's frames at the source's rate (30 fps when unknown).</summary>
    public int KeptResultsPerStream(double? nominalFps) => ScoreTruth == null ? 0
        : (int)Math.Min(100_000, Math.Ceiling(Duration.TotalSeconds * (nominalFps ?? 30) * 2) + 10);

    /// <summary>A CPU-bound neighbour in this process (one thread spinning) during the measured window.</summary>
    public bool Neighbour { get; init; }

    /// <summary>More arguments for <c>streammtl serve</c> (--model, --size, --StreamMtl:… keys).</summary>
    public IReadOnlyList<string> ServeArguments { get; init; } = [];

    public TimeSpan Warmup { get; init; } = TimeSpan.FromSeconds(10);

    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long the service may take to listen (it loads the model first).</summary>
    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>The share of the source's frames a stream must get processed to count as sustained.</summary>
    public const double SustainedShare = 0.99;
}
