using System.Diagnostics;
using System.Text.Json.Nodes;
using StreamMtl.Ingest.Frames;
using StreamMtl.Ingest.Sources;
using StreamMtl.Ingest.Supervision;
using StreamMtl.Ingest.Synthetic;

namespace StreamMtl.Training.Teachers;

/// <summary>What <see cref="Labeler"/> reads and where it writes.</summary>
public sealed record LabelOptions
{
    /// <summary>A source URI (file, synthetic://, rtsp://, ...) or a directory of images.</summary>
    public required string Source { get; init; }

    public required string OutputDirectory { get; init; }

    /// <summary>Label every N-th frame read (1 = every frame).</summary>
    public int Every { get; init; } = 1;

    /// <summary>Stop after this many samples; null reads the source to its end.</summary>
    public int? MaxSamples { get; init; }

    /// <summary>Frame size (both 0: the source's own).</summary>
    public int Width { get; init; }

    public int Height { get; init; }

    /// <summary>Also write soft targets (class probabilities).</summary>
    public bool Soft { get; init; }
}

/// <summary>The outcome of a labelling run.</summary>
public sealed record LabelReport(int Samples, long FramesRead, TimeSpan Elapsed, bool Interrupted);

/// <summary>Runs teachers over a source's frames and writes the folder layout (streammtl label).</summary>
public static class Labeler
{
    public static async Task<LabelReport> RunAsync(LabelOptions options, IReadOnlyList<OnnxTeacher> teachers, Action<string>? log = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Every, 1);
        if (teachers.Count == 0)
        {
            throw new ArgumentException("at least one teacher is needed", nameof(teachers));
        }
        if (teachers.GroupBy(t => t.Task).FirstOrDefault(g => g.Count() > 1) is { } twice)
        {
            throw new TeacherException($"two teachers for {twice.Key}: {string.Join(", ", twice.Select(t => t.ModelPath))}");
        }
        var folder = Directory.Exists(options.Source) ? new ImageFolderSource(options.Source, options.Width, options.Height) : null;
        await using IFrameSource source = folder ?? new FrameSourceFactory().Create(Unpaced(options.Source),
            new SourceOptions { Pacing = Pacing.Batch, Width = options.Width, Height = options.Height });
        var layout = FolderLayout.Create(options.OutputDirectory);
        if (teachers.FirstOrDefault(t => t.Spec.Kind == OutputKind.ClassLogits) is { } segmentation)
        {
            layout.WriteClasses(segmentation.Spec.Classes!);
        }
        var watch = Stopwatch.StartNew();
        long read = 0;
        bool interrupted = false;
        try
        {
            await foreach (var frame in source.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                using (frame)
                {
                    if (read++ % options.Every != 0)
                    {
                        continue;
                    }
                    string id = FolderLayout.Id(frame.Index);
                    string name = folder != null ? folder.Files[(int)frame.Index] : $"{source.DisplayUri} #{frame.Index}";
                    using var sized = Sized(frame.Image, options.Width, options.Height);
                    var image = sized ?? frame.Image;
                    var outputs = teachers.Select(t => (t, t.Run(image, name, options.Soft))).ToList();
                    var provenance = new JsonObject { ["frame"] = frame.Index };
                    if (folder != null)
                    {
                        provenance["file"] = Path.GetFileName(folder.Files[(int)frame.Index]);
                    }
                    layout.Write(id, image, outputs, provenance);
                    if (layout.Samples % 50 == 0)
                    {
                        log?.Invoke($"{layout.Samples} samples ({read} frames read)");
                    }
                    if (layout.Samples == options.MaxSamples)
                    {
                        break;
                    }
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            interrupted = true;
        }
        finally
        {
            layout.Finish(teachers, new JsonObject
            {
                ["source"] = source.DisplayUri,
                ["every"] = options.Every,
                ["size"] = options.Width > 0 ? $"{options.Width}x{options.Height}" : "source",
                ["created"] = DateTimeOffset.UtcNow.ToString("O"),
            });
        }
        return new LabelReport(layout.Samples, read, watch.Elapsed, interrupted);
    }

    /// <summary>
    /// A synthetic camera read as fast as it renders (realtime=0) unless the URI says otherwise: paced, it would skip the frames
    /// the teachers are too slow for, as a live camera does. Files are read unpaced through <see cref="Pacing.Batch"/>.
    /// </summary>
    internal static string Unpaced(string uri)
    {
        if (!uri.StartsWith(SyntheticSpec.Scheme + "://", StringComparison.OrdinalIgnoreCase) || uri.Contains("realtime=", StringComparison.OrdinalIgnoreCase))
        {
            return uri;
        }
        int fragment = uri.IndexOf('#', StringComparison.Ordinal) is int f and >= 0 ? f : uri.Length;
        return uri[..fragment] + (uri[..fragment].Contains('?', StringComparison.Ordinal) ? "&" : "?") + "realtime=0" + uri[fragment..];
    }

    /// <summary>The frame at the asked size, for sources that do not resize themselves (synthetic://); null when it already is.</summary>
    private static OpenCvSharp.Mat? Sized(OpenCvSharp.Mat image, int width, int height)
    {
        if (width == 0 || (image.Width == width && image.Height == height))
        {
            return null;
        }
        var resized = new OpenCvSharp.Mat();
        Downscale.Area(image, resized, width, height);
        return resized;
    }
}
