using System.CommandLine;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using StreamMtl.Server.Configuration;
using StreamMtl.Server.Hosting;

namespace StreamMtl.Server.Cli;

/// <summary>streammtl serve: runs the gRPC service (default: the synthetic camera as stream "camera", the shipped model).</summary>
public static partial class ServeCommand
{
    public const string DefaultSource = "synthetic://static?seed=7&w=320&h=240&fps=15";

    public static async Task<int> RunAsync(ParseResult options)
    {
        var hostArgs = HostArguments(options);
        var overrides = new Dictionary<string, string?>();
        if (options.GetValue(Options.Source) is { } source)
        {
            overrides["StreamMtl:Streams:0:Source"] = source;
        }
        bool noCamera = options.GetValue(Options.NoCamera);
        if (options.GetValue(Options.Model) is { } model)
        {
            overrides["StreamMtl:Model:Path"] = ModelArgument.Resolve(model);
        }
        if (options.GetValue(Options.Adapter) is { } adapter)
        {
            overrides["StreamMtl:Model:Adapter"] = Path.GetFullPath(adapter);
        }
        if (options.GetValue(Options.Size) is { } size)
        {
            var (w, h) = Sizes.Parse(size);
            overrides["StreamMtl:Model:InputWidth"] = w.ToString(System.Globalization.CultureInfo.InvariantCulture);
            overrides["StreamMtl:Model:InputHeight"] = h.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        if (options.GetValue(Options.Address) is { } address)
        {
            overrides["StreamMtl:Endpoints:Address"] = address;
        }
        if (options.GetValue(Options.GrpcPort) is { } grpcPort)
        {
            overrides["StreamMtl:Endpoints:GrpcPort"] = grpcPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        if (options.GetValue(Options.MetricsPort) is { } metricsPort)
        {
            overrides["StreamMtl:Endpoints:MetricsPort"] = metricsPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        if (options.GetValue(Options.ApiKey) is { } apiKey)
        {
            overrides["StreamMtl:Security:ApiKeys:0"] = apiKey;
        }
        if (options.GetValue(Options.Cluster) is { } cluster)
        {
            overrides["StreamMtl:Cluster:Redis"] = ClusterNodeOptions.ParseRedisUri(cluster, out var clusterError) ?? throw new CliException(clusterError!);
        }
        if (options.GetValue(Options.Threshold) is { } threshold)
        {
            overrides["StreamMtl:Streams:0:Reuse:ShareThreshold"] = threshold.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

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
