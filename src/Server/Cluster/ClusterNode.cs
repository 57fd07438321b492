using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans;
using Orleans.Runtime;
using StreamMtl.Server.Configuration;
using StreamMtl.Server.Metrics;

namespace StreamMtl.Server.Cluster;

/// <summary>
/// This node's membership in the stream cluster: every reconcile period it reports its endpoint and load to the registry
/// (which also re-activates the registry on a live node if its node died) and exports its own view of the cluster
/// (streammtl_cluster_nodes, streammtl_cluster_node_streams); on a graceful stop it hands its streams over before the
/// silo leaves.
/// </summary>
public sealed partial class ClusterNode(IGrainFactory grains, ILocalSiloDetails silo, IClusterMembershipService membership, ILocalStreams local, ServerMetrics metrics,
    IOptions<ServiceOptions> options, ILogger<ClusterNode> logger) : IHostedLifecycleService, IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private Task? _loop;
    private int _disposed;

    private IStreamCatalogGrain Catalog => grains.GetGrain<IStreamCatalogGrain>(0);

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken)
    {
        Log.Joined(logger, local.NodeName, silo.SiloAddress.ToString(), local.GrpcEndpoint);
        _loop = ReportLoopAsync(_stop.Token);
        return Task.CompletedTask;
    }

    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        await _stop.CancelAsync();
        if (_loop is not null)
        {
            await _loop;
        }
        using var timeout = new CancellationTokenSource(options.Value.Cluster.HandoverTimeout);
        try
        {
            await Catalog.Drain(silo.SiloAddress).WaitAsync(timeout.Token);
            Log.HandedOver(logger, local.NodeName);
        }
        catch (Exception e) when (e is OperationCanceledException or OrleansException or TimeoutException)
        {
            Log.HandoverFailed(logger, local.NodeName, e.Message);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private async Task ReportLoopAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(options.Value.Cluster.ReconcilePeriod);
        do
        {
            var running = local.Running;
            metrics.ClusterNodeStreams.WithLabels(local.NodeName).Set(running.Count);
            metrics.ClusterNodes.Set(membership.CurrentSnapshot.Members.Values.Count(m => m.Status == SiloStatus.Active));
            try
            {
                await Catalog.Report(new NodeReport(silo.SiloAddress, local.NodeName, local.GrpcEndpoint, local.Limit, [.. running], local.Load)).WaitAsync(cancellationToken);
            }
            catch (Exception e) when (e is OrleansException or TimeoutException)
            {
                Log.ReportFailed(logger, e.Message);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
        }
        while (await SafeWait(timer, cancellationToken));
    }

    private static async Task<bool> SafeWait(PeriodicTimer timer, CancellationToken cancellationToken)
    {
        try
        {
            return await timer.WaitForNextTickAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        // Registered as a singleton and as the hosted service that resolves it: the container may dispose it twice.
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            await _stop.CancelAsync();
            _stop.Dispose();
        }
    }

    private static partial class Log
    {
        [LoggerMessage(65, LogLevel.Information, "Node {Node} joined the cluster as silo {Silo}; gRPC at {Endpoint}")]
        public static partial void Joined(ILogger logger, string node, string silo, string endpoint);

        [LoggerMessage(66, LogLevel.Information, "Node {Node} handed its streams over")]
        public static partial void HandedOver(ILogger logger, string node);

        [LoggerMessage(67, LogLevel.Warning, "Node {Node} could not hand its streams over ({Error}); survivors re-place them after failure detection")]
        public static partial void HandoverFailed(ILogger logger, string node, string error);

        [LoggerMessage(68, LogLevel.Warning, "Load report to the stream registry failed: {Error}")]
        public static partial void ReportFailed(ILogger logger, string error);
    }
}
