using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using StreamMtl.Server.Hosting;

namespace StreamMtl.Server.Cli;

/// <summary>streammtl serve: runs the gRPC service (default: the synthetic camera as stream "camera", the shipped model).</summary>
public static class ServeCommand
{
    public const string DefaultSource = "synthetic://static?seed=7&w=320&h=240&fps=15";

    public const string Help = $"""
        usage: streammtl serve [options] [--StreamMtl:Section:Key=value ...]

          --source URI        source of the declared stream "camera"     [{DefaultSource}]
          --no-camera         start without the declared stream (add streams over the API)
          --model F           model file                                 [the shipped model]
          --size WxH          model input size                           [320x240]
          --address IP        listen address (0.0.0.0 for all)           [127.0.0.1]
          --grpc-port N       gRPC port (HTTP/2)                         [50051]
          --metrics-port N    /metrics, /healthz, /readyz (HTTP/1.1)     [9464]
          --api-key K         require this API key (metadata x-api-key)
          --threshold X       sub-task activation-sharing threshold      [0]

        Any configuration key can be set as --StreamMtl:Limits:MaxStreams=4 (see docs/service.md), or through
        environment variables (StreamMtl__Limits__MaxStreams=4) and appsettings.json beside the executable.
        """;

    public static async Task<int> RunAsync(string[] args)
    {
        var hostArgs = new List<string>();
        var own = new List<string>();
        foreach (var arg in args)
        {
            (arg.StartsWith("--StreamMtl:", StringComparison.OrdinalIgnoreCase) || arg.StartsWith("--Logging:", StringComparison.OrdinalIgnoreCase)
                ? hostArgs : own).Add(arg);
        }
        var options = CliArgs.Parse(own);
        if (options.Flag("help"))
        {
            Console.WriteLine(Help);
            return 0;
        }
        var overrides = new Dictionary<string, string?>();
        if (options.String("source") is { } source)
        {
            overrides["StreamMtl:Streams:0:Source"] = source;
        }
        bool noCamera = options.Flag("no-camera");
        if (options.String("model") is { } model)
        {
            overrides["StreamMtl:Model:Path"] = ModelLocator.Resolve(model);
        }
        if (options.String("size") is { } size)
        {
            var (w, h) = Sizes.Parse(size);
            overrides["StreamMtl:Model:InputWidth"] = w.ToString(System.Globalization.CultureInfo.InvariantCulture);
            overrides["StreamMtl:Model:InputHeight"] = h.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        if (options.String("address") is { } address)
        {
            overrides["StreamMtl:Endpoints:Address"] = address;
        }
        if (options.OptionalInt("grpc-port", 0, 65535) is { } grpcPort)
        {
            overrides["StreamMtl:Endpoints:GrpcPort"] = grpcPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        if (options.OptionalInt("metrics-port", 0, 65535) is { } metricsPort)
        {
            overrides["StreamMtl:Endpoints:MetricsPort"] = metricsPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        if (options.String("api-key") is { } apiKey)
        {
            overrides["StreamMtl:Security:ApiKeys:0"] = apiKey;
        }
        if (options.String("threshold") != null)
        {
            overrides["StreamMtl:Streams:0:Reuse:ShareThreshold"] = options.Double("threshold", 0, 0, 100).ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        options.EnsureAllUsed();

        WebApplication app;
        try
        {
            app = ServerHost.Build([.. hostArgs], builder =>
            {
                if (noCamera)
                {
                    overrides["StreamMtl:StartDeclaredStreams"] = "false";
                }
                builder.Configuration.AddInMemoryCollection(overrides);
            });
            await app.StartAsync();
        }
        catch (OptionsValidationException e)
        {
            Console.Error.WriteLine("streammtl serve: invalid configuration:");
            foreach (var failure in e.Failures)
            {
                Console.Error.WriteLine("  - " + failure);
            }
            return 2;
        }
        var endpoints = app.Services.GetRequiredService<IOptions<Configuration.ServiceOptions>>().Value.Endpoints;
        Console.WriteLine($"streammtl serving: gRPC on {endpoints.Address}:{endpoints.GrpcPort}, /metrics /healthz /readyz on {endpoints.Address}:{endpoints.MetricsPort}; Ctrl+C stops");
        await app.WaitForShutdownAsync();
        await app.DisposeAsync();
        return 0;
    }
}
