using StreamMtl.Ingest.Supervision;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using StreamMtl.Server.Configuration;
using StreamMtl.Server.Service;
using StreamMtl.Pipeline.Inference;
using StreamMtl.Server.Metrics;
using StreamMtl.Server.Security;
using StreamMtl.Pipeline.Streams;
using StreamMtl.Ingest.Sources;

namespace StreamMtl.Server.Hosting;

/// <summary>Registers the service: options (validated at startup), the model/inference thread, streams, gRPC, health and metrics.</summary>
public static class ServerServiceCollectionExtensions
{
    public static WebApplicationBuilder AddStreamMtlServer(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        var section = builder.Configuration.GetSection(ServiceOptions.Section);
        services.AddOptions<ServiceOptions>().Configure(options => StrictBinding.Bind(section, options)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<ServiceOptions>, ServiceOptionsValidator>();
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<ServerMetrics>();
        services.AddSingleton<ProcessSessions>();
        services.AddSingleton(sp =>
        {
            var options = sp.GetRequiredService<IOptions<ServiceOptions>>().Value;
            string path = string.IsNullOrEmpty(options.Model.Path) ? ModelLocator.Default() : options.Model.Path;
            if (!File.Exists(path))
            {
                throw new OptionsValidationException(ServiceOptions.Section, typeof(ServiceOptions),
                    [$"Model:Path: model file not found: {path} (set StreamMtl:Model:Path or STREAMMTL_MODEL)"]);
            }
            if (!string.IsNullOrEmpty(options.Model.Adapter) && !File.Exists(options.Model.Adapter))
            {
                throw new OptionsValidationException(ServiceOptions.Section, typeof(ServiceOptions),
                    [$"Model:Adapter: adapter file not found: {options.Model.Adapter} (StreamMtl:Model:Adapter, serve --adapter)"]);
            }
            return new InferenceEngine(path, options.Model, options.Pipeline, sp.GetRequiredService<ServerMetrics>(),
                sp.GetRequiredService<Microsoft.Extensions.Logging.ILogger<InferenceEngine>>(), sp.GetRequiredService<TimeProvider>());
        });
        services.AddSingleton(sp => new SourcePolicy(sp.GetRequiredService<IOptions<ServiceOptions>>().Value.Security));
        services.AddSingleton(sp => new CostLedger(sp.GetRequiredService<IOptions<ServiceOptions>>().Value.Limits));
        services.AddSingleton<StreamCommands>();
        services.AddSingleton<Web.WebAccess>();
        services.AddSingleton(sp => new Web.ViewerSlots(sp.GetRequiredService<IOptions<ServiceOptions>>().Value.Limits.MaxWebViewers));
        services.AddCallRateLimiting();
        services.AddSingleton(sp =>
        {
            var options = sp.GetRequiredService<IOptions<ServiceOptions>>().Value;
            var time = sp.GetRequiredService<TimeProvider>();
            var logs = sp.GetRequiredService<Microsoft.Extensions.Logging.ILoggerFactory>();
            return new StreamRegistry(sp.GetRequiredService<InferenceEngine>(), new FrameSourceFactory(time, logs), sp.GetRequiredService<ServerMetrics>(),
                new RegistryOptions(options.Limits.MaxStreams, options.Limits.MaxSendMessageBytes, ApiMapping.MessageSize), options.Pipeline, time, logs);
        });
        services.AddHostedService<StreamsHostedService>();
        services.AddSingleton<ApiKeyInterceptor>();
        services.AddGrpc(grpc =>
        {
            grpc.Interceptors.Add<ApiKeyInterceptor>();
            grpc.EnableDetailedErrors = false;
        });
        services.AddOptions<Grpc.AspNetCore.Server.GrpcServiceOptions>().Configure<IOptions<ServiceOptions>>((grpc, options) =>
        {
            grpc.MaxSendMessageSize = options.Value.Limits.MaxSendMessageBytes;
            grpc.MaxReceiveMessageSize = options.Value.Limits.MaxReceiveMessageBytes;
        });
        services.AddGrpcReflection();
        services.AddGrpcHealthChecks()
            .AddCheck<ModelHealthCheck>("model", tags: ["ready"])
            .AddCheck("live", () => HealthCheckResult.Healthy());
        services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(5));
        ConfigureKestrel(builder);
        return builder;
    }

    private static void ConfigureKestrel(WebApplicationBuilder builder)
    {
        var endpoints = StrictBinding.Read(builder.Configuration).Endpoints;
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            var address = endpoints.Address is "*" or "0.0.0.0" ? System.Net.IPAddress.Any
                : endpoints.Address == "localhost" ? System.Net.IPAddress.Loopback
                : System.Net.IPAddress.TryParse(endpoints.Address, out var ip) ? ip : System.Net.IPAddress.Loopback;
            kestrel.Listen(address, endpoints.GrpcPort, listen =>
            {
                listen.Protocols = HttpProtocols.Http2;
                if (endpoints.Tls)
                {
                    listen.UseHttps(System.Security.Cryptography.X509Certificates.X509Certificate2.CreateFromPemFile(
                        endpoints.TlsCertificatePath!, endpoints.TlsKeyPath));
                }
            });
            kestrel.Listen(address, endpoints.MetricsPort, listen => listen.Protocols = HttpProtocols.Http1);
        });
    }
}
