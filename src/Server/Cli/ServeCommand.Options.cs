using System.CommandLine;
using static StreamMtl.Server.Cli.CliOptions;

namespace StreamMtl.Server.Cli;

public static partial class ServeCommand
{
    /// <summary>The options of <c>streammtl serve</c>; configuration keys (--StreamMtl:Section:Key=value) pass through to the host.</summary>
    internal static class Options
    {
        public static readonly Option<string?> Source = OptionalText("--source", "URI", $"source of the declared stream \"camera\" [default: {DefaultSource}]");
        public static readonly Option<bool> NoCamera = Flag("--no-camera", "start without the declared stream (add streams over the API)");
        public static readonly Option<string?> Model = ModelPath();
        public static readonly Option<string?> Adapter = AdapterPath();
        public static readonly Option<string?> Size = OptionalText("--size", "WxH", "model input size [default: 320x240]");
        public static readonly Option<string?> Address = OptionalText("--address", "IP", "listen address (0.0.0.0 for all) [default: 127.0.0.1]");
        public static readonly Option<int?> GrpcPort = OptionalInt("--grpc-port", "gRPC port (HTTP/2) [default: 50051]", 0, 65535);
        public static readonly Option<int?> MetricsPort = OptionalInt("--metrics-port", "/metrics, /healthz, /readyz (HTTP/1.1) [default: 9464]", 0, 65535);
        public static readonly Option<string?> ApiKey = OptionalText("--api-key", "K", "require this API key (metadata x-api-key)");
        public static readonly Option<string?> Cluster = OptionalText("--cluster", "redis://HOST:PORT",
            "join the cluster whose membership and stream registry are in this Redis (one Orleans silo per node; StreamMtl:Cluster:*)");
        public static readonly Option<double?> Threshold = OptionalDouble("--threshold", "sub-task activation-sharing threshold [default: 0]", 0, 100);
    }

    /// <summary>Printed after the generated help.</summary>
    internal const string Notes = """
        The additional arguments are configuration keys: any key can be set as --StreamMtl:Limits:MaxStreams=4
        (see docs/service.md), or through environment variables (StreamMtl__Limits__MaxStreams=4) and
        appsettings.json beside the executable.
        """;

    /// <summary>The serve command with its options; its body is <see cref="RunAsync"/>.</summary>
    internal static Command Create()
    {
        var serve = CliOptions.Command("serve", "run the gRPC service (default source: the synthetic camera, default model: the shipped one)",
            RunAsync, Options.Source, Options.NoCamera, Options.Model, Options.Adapter, Options.Size, Options.Address, Options.GrpcPort, Options.MetricsPort,
            Options.ApiKey, Options.Threshold, Options.Cluster);
        // Configuration keys are not declared options: the parser leaves them unmatched, and HostArguments hands them to the host.
        serve.TreatUnmatchedTokensAsErrors = false;
        return serve;
    }

    /// <summary>The --StreamMtl:… and --Logging:… configuration keys; any other token the parser did not match is refused.</summary>
    internal static string[] HostArguments(ParseResult options)
    {
        foreach (var token in options.UnmatchedTokens)
        {
            if (!token.StartsWith("--StreamMtl:", StringComparison.OrdinalIgnoreCase) && !token.StartsWith("--Logging:", StringComparison.OrdinalIgnoreCase))
            {
                throw new CliException($"Unrecognized command or argument '{token}' (configuration keys look like --StreamMtl:Section:Key=value)");
            }
        }
        return [.. options.UnmatchedTokens];
    }
}
