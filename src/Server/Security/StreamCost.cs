using StreamMtl.Ingest.Sources;
using StreamMtl.Ingest.Synthetic;
using StreamMtl.Pipeline.Model;
using StreamMtl.Pipeline.Streams;
using StreamMtl.Server.Configuration;

namespace StreamMtl.Server.Security;

/// <summary>
/// What a stream may cost the node when watched: source pixels per second (decoding, rendering, resizing) and task-frames
/// per second (inference). Known for a synthetic camera or a stream with a declared size and max_fps; otherwise the
/// source limits (Limits:MaxSourceWidth/Height/Fps) are assumed, the most an API stream may deliver.
/// </summary>
public sealed record StreamCost(double MegapixelsPerSecond, double TaskFramesPerSecond)
{
    public static StreamCost Zero { get; } = new(0, 0);

    public static StreamCost Of(StreamDefinition definition, LimitOptions limits)
    {
        double width = definition.Width, height = definition.Height, fps = definition.MaxFps;
        if (Synthetic(definition.SourceUri) is { } spec)
        {
            (width, height) = width > 0 ? (width, height) : (spec.Width, spec.Height);
            fps = fps > 0 ? Math.Min(fps, spec.Fps) : spec.Fps;
        }
        if (width <= 0)
        {
            (width, height) = (limits.MaxSourceWidth, limits.MaxSourceHeight);
        }
        if (fps <= 0)
        {
            fps = limits.MaxSourceFps;
        }
        return new StreamCost(width * height * fps / 1e6, fps * definition.Tasks.Tasks().Count());
    }

    public StreamCost Plus(StreamCost other) => new(MegapixelsPerSecond + other.MegapixelsPerSecond, TaskFramesPerSecond + other.TaskFramesPerSecond);

    public override string ToString() => $"{MegapixelsPerSecond:0.#} Mpx/s, {TaskFramesPerSecond:0.#} task-frames/s";

    /// <summary>The synthetic camera <paramref name="uri"/> asks for; null for other sources and malformed URIs (the registry reports those).</summary>
    internal static SyntheticSpec? Synthetic(string uri)
    {
        if (!uri.StartsWith(SyntheticSpec.Scheme + ":", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }
        try
        {
            return SyntheticSpec.Parse(uri);
        }
        catch (SourceException)
        {
            return null;
        }
    }
}
