using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;
using Orleans.Hosting;
using StackExchange.Redis;
using StreamMtl.Server.Configuration;
using StreamMtl.Server.Service;

namespace StreamMtl.Server.Cluster;

/// <summary>Makes the service a cluster node when StreamMtl:Cluster:Redis is set: an Orleans silo in the same host, Redis membership and storage.</summary>
public static class ClusterHosting
{
    /// <summary>The grain storage holding the stream registry.</summary>
    public const string Storage = "streams";

    public const string ClusterId = "streammtl";

    public static WebApplicationBuilder AddStreamMtlCluster(this WebApplicationBuilder builder)
    {
        var service = StrictBinding.Read(builder.Configuration);
        var cluster = service.Cluster;
        if (!cluster.Enabled)
        {
            return builder;
        }
        string node = NodeName(service);
        // Every log line names the node (several nodes' logs are often read side by side).
        builder.Logging.AddSimpleConsole(o => o.TimestampFormat = $"'[{node.Replace("'", "", StringComparison.Ordinal)}]' HH:mm:ss.fff ");
        // Orleans' and Polly's informational lines (membership gossip, directory hand-offs, each placement) drown the service's own.
        builder.Logging.AddFilter("Orleans", LogLevel.Warning).AddFilter("Polly", LogLevel.Warning);
        builder.UseOrleans(silo =>
        {
            var redis = ConfigurationOptions.Parse(cluster.Redis!);
            redis.AbortOnConnectFail = false;
            silo.UseRedisClustering(o => o.ConfigurationOptions = redis.Clone());
            silo.AddRedisGrainStorage(Storage, o => o.ConfigurationOptions = redis.Clone());
            silo.Configure<ClusterOptions>(o =>
            {
                o.ClusterId = ClusterId;
                o.ServiceId = ClusterId;
            });
            silo.ConfigureEndpoints(AdvertisedAddress(service), cluster.SiloPort, gatewayPort: 0, listenOnAnyHostAddress: service.Endpoints.Address is "*" or "0.0.0.0");
            silo.Configure<ClusterMembershipOptions>(o =>
            {
                o.ProbeTimeout = cluster.ProbeTimeout;
                o.NumMissedProbesLimit = cluster.MissedProbesLimit;
                o.NumVotesForDeathDeclaration = cluster.VotesForDeath;
                o.TableRefreshTimeout = cluster.ReconcilePeriod * 2;
                o.IAmAliveTablePublishTimeout = TimeSpan.FromSeconds(10);
            });
            silo.Configure<SiloMessagingOptions>(o => o.ResponseTimeout = TimeSpan.FromSeconds(10));
            silo.Services.AddPlacementDirector<CatalogPlacementStrategy, CatalogPlacementDirector>();
        });
        var services = builder.Services;
        services.AddSingleton<ILocalStreams, NodeStreams>();
        services.AddSingleton<IClusterEvents, MetricClusterEvents>();
        services.AddSingleton<IClusterFrontDoor, ClusterFrontDoor>();
        services.AddSingleton<ClusterNode>();
        services.AddHostedService(sp => sp.GetRequiredService<ClusterNode>());
        return builder;
    }

    /// <summary>The address other nodes use for this one: Cluster:AdvertisedAddress, else the listen address (loopback when listening on all).</summary>
    public static IPAddress AdvertisedAddress(ServiceOptions options) =>
        IPAddress.TryParse(options.Cluster.AdvertisedAddress, out var advertised) ? advertised
        : options.Endpoints.Address is "*" or "0.0.0.0" or "localhost" ? IPAddress.Loopback
        : IPAddress.TryParse(options.Endpoints.Address, out var listen) ? listen : IPAddress.Loopback;

    public static string GrpcEndpoint(ServiceOptions options)
    {
        var address = AdvertisedAddress(options);
        string host = address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{address}]" : address.ToString();
        return $"{(options.Endpoints.Tls ? "https" : "http")}://{host}:{options.Endpoints.GrpcPort}";
    }

    public static string NodeName(ServiceOptions options) =>
        string.IsNullOrWhiteSpace(options.Cluster.NodeName) ? $"{Environment.MachineName}:{options.Endpoints.GrpcPort}" : options.Cluster.NodeName;
}
