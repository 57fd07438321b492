namespace StreamMtl.Server.Soak;

/// <summary>What a service soak runs: the service (host, streammtl.dll, streams, extra serve arguments), the clients' load, how long, how often to sample.</summary>
public sealed record ServiceSoakSettings
{
    /// <summary>The dotnet host that runs <see cref="ServerDll"/>.</summary>
    public required string DotnetHost { get; init; }

    public required string ServerDll { get; init; }

    /// <summary>The streams the service declares, each with one subscriber.</summary>
    public required IReadOnlyList<SoakStream> Streams { get; init; }

    /// <summary>More arguments for <c>streammtl serve</c> (--model, --size, --StreamMtl:… keys).</summary>
    public IReadOnlyList<string> ServeArguments { get; init; } = [];

    public required TimeSpan Duration { get; init; }

    public TimeSpan SampleEvery { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Size of the PNG frames the Process client sends.</summary>
    public int ProcessWidth { get; init; } = 1920;

    public int ProcessHeight { get; init; } = 1080;

    /// <summary>At most one Process frame per interval (the next one leaves when the previous result is back).</summary>
    public TimeSpan ProcessInterval { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>Frames per Process call before the client completes it and opens the next.</summary>
    public int FramesPerProcessCall { get; init; } = 20;

    /// <summary>How long the service may take to listen (it loads the model first).</summary>
    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromMinutes(2);
}
