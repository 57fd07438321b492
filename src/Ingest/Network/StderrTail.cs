using System.Text.RegularExpressions;
using StreamMtl.Ingest.Sources;

namespace StreamMtl.Ingest.Network;

/// <summary>Keeps the last lines of ffmpeg's stderr (redacted) and picks the output frame size out of them.</summary>
internal sealed partial class StderrTail
{
    private readonly Queue<string> _lines = new();
    private readonly int _capacity;
    private readonly TaskCompletionSource<(int Width, int Height, double Fps)> _size = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool _inOutput;

    public StderrTail(int capacity = 20)
    {
        _capacity = capacity;
    }

    /// <summary>Completes when ffmpeg has printed its output stream's geometry.</summary>
    public Task<(int Width, int Height, double Fps)> OutputSize => _size.Task;

    public void Add(string? line)
    {
        if (string.IsNullOrWhiteSpace(line))
        {
            return;
        }
        if (line.StartsWith("Output #0", StringComparison.Ordinal))
        {
            _inOutput = true;
        }
        else if (_inOutput && OutputStream().Match(line) is { Success: true } m)
        {
            var fps = m.Groups[3].Success ? double.Parse(m.Groups[3].ValueSpan, System.Globalization.CultureInfo.InvariantCulture) : 0;
            _size.TrySetResult((int.Parse(m.Groups[1].ValueSpan), int.Parse(m.Groups[2].ValueSpan), fps));
        }
        lock (_lines)
        {
            _lines.Enqueue(UriRedactor.Redact(line.Trim()));
            while (_lines.Count > _capacity)
            {
                _lines.Dequeue();
            }
        }
    }

    public IReadOnlyList<string> Lines()
    {
        lock (_lines)
        {
            return [.. _lines];
        }
    }

    /// <summary>The interesting tail: info-level chatter (stream listings, metadata) left out.</summary>
    public string Summary(int max = 4)
    {
        var lines = Lines().Where(l => !l.StartsWith("Input #", StringComparison.Ordinal) && !l.StartsWith("Output #", StringComparison.Ordinal)
            && !l.StartsWith("Stream", StringComparison.Ordinal) && !l.StartsWith("Duration", StringComparison.Ordinal)
            && !l.StartsWith("Metadata", StringComparison.Ordinal) && !l.StartsWith("Press [q]", StringComparison.Ordinal)
            && !l.Contains(" : ", StringComparison.Ordinal)
            && !l.StartsWith("frame=", StringComparison.Ordinal) && !l.StartsWith("video:", StringComparison.Ordinal))
            .TakeLast(max).ToList();
        return lines.Count == 0 ? "(ffmpeg reported no error)" : string.Join(" | ", lines);
    }

    public string All() => string.Join('\n', Lines());

    [GeneratedRegex(@"Stream #0:\d+.*: Video: rawvideo.*?, (\d{1,5})x(\d{1,5})(?:.*?, (\d+(?:\.\d+)?) fps)?")]
    private static partial Regex OutputStream();
}
