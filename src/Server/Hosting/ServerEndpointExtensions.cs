using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Prometheus;
using StreamMtl.Server.Configuration;
using StreamMtl.Server.Service;
using StreamMtl.Server.Metrics;
using StreamMtl.Server.Security;
using StreamMtl.Server.Web;

namespace StreamMtl.Server.Hosting;

/// <summary>Maps gRPC (services, health, reflection) to the gRPC port and /metrics, /healthz, /readyz and the web view to the HTTP/1.1 port.</summary>
public static class ServerEndpointExtensions
{
    public static WebApplication MapStreamMtl(this WebApplication app, bool separatePorts = true)
    {
        var endpoints = app.Services.GetRequiredService<IOptions<ServiceOptions>>().Value.Endpoints;
        var registry = app.Services.GetRequiredService<ServerMetrics>().Registry;
        string grpcHost = $"*:{endpoints.GrpcPort}";
        string metricsHost = $"*:{endpoints.MetricsPort}";
        app.UseCallRateLimiting();
        app.UseWebSockets();
        Restrict(app.MapGrpcService<VisionGrpcService>(), grpcHost, separatePorts);
        Restrict(app.MapGrpcHealthChecksService(), grpcHost, separatePorts);
        Restrict(app.MapGrpcReflectionService(), grpcHost, separatePorts);
        Restrict(app.MapMetrics("/metrics", registry), metricsHost, separatePorts);
        Restrict(app.MapHealthChecks("/healthz", new HealthCheckOptions { Predicate = c => !c.Tags.Contains("ready") }), metricsHost, separatePorts);
        Restrict(app.MapStreamMtlWeb(), metricsHost, separatePorts);
        Restrict(app.MapHealthChecks("/readyz", new HealthCheckOptions { Predicate = c => c.Tags.Contains("ready") }), metricsHost, separatePorts);
        return app;
    }

    private static void Restrict(IEndpointConventionBuilder endpoint, string host, bool separatePorts)
    {
        if (separatePorts)
        {
            endpoint.RequireHost(host);
        }
    }
}
