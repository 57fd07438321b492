using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using StreamMtl.Server.Cluster;

namespace StreamMtl.Server.Hosting;

/// <summary>Builds the service host: appsettings.json beside the executable, then STREAMMTL_-prefixed and plain environment, then command-line overrides.</summary>
public static class ServerHost
{
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null, bool separatePorts = true)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        configure?.Invoke(builder);
        builder.AddStreamMtlServer();
        builder.AddStreamMtlCluster();
        var app = builder.Build();
        app.MapStreamMtl(separatePorts);
        return app;
    }
}
