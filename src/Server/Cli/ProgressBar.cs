using StreamMtl.Training;

namespace StreamMtl.Server.Cli;

/// <summary>Prints training progress: a redrawn bar on a terminal, one line per report otherwise (logs, CI).</summary>
public static class ProgressBar
{
    private static int _lastLine = -1;

    public static void Print(TrainProgress p)
    {
        const int width = 30;
        int filled = (int)((double)p.Step / p.Steps * width);
        string bar = new string('#', filled) + new string('.', width - filled);
        string temporal = double.IsNaN(p.Temporal) ? "" : $" {p.PenaltyName} {p.Temporal:F4}";
        string text = $"[{p.Stage}] [{bar}] {p.Step}/{p.Steps} loss {p.Loss:F4}{temporal} {p.SamplesPerSecond:F1} samples/s " +
            $"elapsed {p.Elapsed:hh\\:mm\\:ss} eta {p.Remaining:hh\\:mm\\:ss}";
        if (!Console.IsOutputRedirected)
        {
            Console.Write("\r" + text.PadRight(Console.WindowWidth > 0 ? Math.Min(Console.WindowWidth - 1, 150) : 120));
            return;
        }
        int line = p.Step * 20 / p.Steps;
        if (line != _lastLine || p.Step == p.Steps)
        {
            _lastLine = line;
            Console.WriteLine(text);
        }
    }

    public static void Finish()
    {
        if (!Console.IsOutputRedirected)
        {
            Console.WriteLine();
        }
        _lastLine = -1;
    }
}
