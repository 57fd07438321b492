using System.CommandLine;
using StreamMtl.Server.Soak;
using static StreamMtl.Server.Cli.CliOptions;

namespace StreamMtl.Server.Cli;

public static partial class SoakCommand
{
    /// <summary>The options of <c>streammtl soak</c>; configuration keys (--StreamMtl:Section:Key=value) pass through to the soaked service.</summary>
    internal static class Options
    {
        public static readonly Option<string> Mode = ModeOption();
        public static readonly Option<int> Seconds = Int("--seconds", "duration", 3600, min: 1);
        public static readonly Option<int> Every = Int("--every", "seconds between samples", 10, min: 1);
        public static readonly Option<string> Source = Text("--source", "URI", "ingest mode: the source to read in a loop", "../shared/videos/vtest.avi#mode=batch&loop=1");
        public static readonly Option<string> Camera = Text("--camera", "URI", "service mode: source of the stream \"camera\"", ServeCommand.DefaultSource);
        public static readonly Option<string> Video = Text("--video", "FILE", "service mode: video file looped live as the stream \"video\"", "../shared/videos/vtest.avi");
        public static readonly Option<string> ProcessSize = Text("--process-size", "WxH", "service mode: size of the PNG frames the Process client sends", "1920x1080");
        public static readonly Option<int> ProcessInterval = Int("--process-interval", "service mode: milliseconds between Process frames (at most one in flight)", 250, min: 1, helpName: "MS");
        public static readonly Option<string> Csv = Text("--csv", "PATH", "service mode: samples as CSV", "artifacts/soak.csv");
        public static readonly Option<string> Png = Text("--png", "PATH", "service mode: chart of RSS, file descriptors and threads", "artifacts/soak.png");
        public static readonly Option<string?> Model = ModelPath();
        public static readonly Option<string?> Size = OptionalText("--size", "WxH", "service mode: model input size [default: the service's, 320x240]");

        private static Option<string> ModeOption()
        {
            var mode = Text("--mode", "MODE",
                "service: the service as a child process with 2 streams, 2 subscribers and a Process client; ingest: one source read in this process", "service");
            mode.AcceptOnlyFromAmong("service", "ingest");
            return mode;
        }
    }

    /// <summary>Printed after the generated help.</summary>
    internal static readonly string Notes = $"""
        Service mode starts `dotnet streammtl.dll serve` as a child process and samples its RSS, open file descriptors and
        threads every --every seconds. Warm-up: max(5 min, 10% of the run), at most half of it. The run passes (exit 0) when
        RSS at the end is < {ServiceSoakResult.MaxRssGrowthPercent:0}% above the first sample after warm-up and file descriptors and threads are flat after it:
        the last third's peak at most {ServiceSoakResult.FileDescriptorTolerance} (threads {ServiceSoakResult.ThreadTolerance}) above the first third's. Otherwise it exits 1 saying why.
        Additional arguments are configuration keys for the service (e.g. --StreamMtl:Model:Threads=2). Ctrl+C stops
        early (exit 130), still writing the CSV and the chart.
        """;

    /// <summary>The soak command with its options; its body is <see cref="RunAsync"/>.</summary>
    internal static Command Create()
    {
        var soak = CliOptions.Command("soak", "soak the service (or a source) for a while and report memory, file descriptors and threads",
            RunAsync, Options.Mode, Options.Seconds, Options.Every, Options.Source, Options.Camera, Options.Video, Options.ProcessSize,
            Options.ProcessInterval, Options.Csv, Options.Png, Options.Model, Options.Size);
        // Configuration keys for the service are not declared options (see ServeCommand.HostArguments).
        soak.TreatUnmatchedTokensAsErrors = false;
        return soak;
    }
}
