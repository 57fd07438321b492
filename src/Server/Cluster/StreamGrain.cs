using Microsoft.Extensions.Logging;
using Orleans;
using Orleans.Runtime;

namespace StreamMtl.Server.Cluster;

/// <summary>
/// The owner of one stream: while this activation lives, the stream runs on its silo's pipeline. It starts and stops
/// the local stream and nothing else (frames, tensors and results never pass through a grain). Kept alive while the
/// stream runs. Orleans guarantees one activation per grain key, and the registry keeps one key current per stream (a
/// new placement's previous owner was released first on a handover, is dead on a failover, or never started), so one
/// node runs it.
/// </summary>
[KeepAlive]
[CatalogPlacement]
public sealed partial class StreamGrain(ILocalStreams local, ILocalSiloDetails silo, ILogger<StreamGrain> logger) : Grain, IStreamGrain
{
    private string? _running;

    private SiloAddress Here => silo.SiloAddress;

    public async Task<EnsureAnswer> Ensure(StreamRecord record, SiloAddress target)
    {
        if (_running is { } running && local.Running.Contains(running, StringComparer.Ordinal))
        {
            return new EnsureAnswer(Outcome.Ok, Here);
        }
        if (!Here.Equals(target))
        {
            // Activated here by a call without the registry's hint: make room for an activation where it belongs.
            DeactivateOnIdle();
            return new EnsureAnswer(new Outcome((int)Grpc.Core.StatusCode.Unavailable, $"stream grain landed on {Here}, not {target}; retrying"), Here);
        }
        var outcome = await local.StartAsync(record);
        if (outcome.Succeeded)
        {
            _running = record.Id;
            Log.Owns(logger, record.Id, local.NodeName);
        }
        else
        {
            DeactivateOnIdle();
        }
        return new EnsureAnswer(outcome, Here) { Started = outcome.Succeeded };
    }

    public async Task Release()
    {
        await StopLocal();
        DeactivateOnIdle();
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken) => await StopLocal();

    private async Task StopLocal()
    {
        if (_running is { } id)
        {
            _running = null;
            await local.StopAsync(id);
            Log.Released(logger, id, local.NodeName);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(60, LogLevel.Information, "Stream {Stream} now runs on node {Node}")]
        public static partial void Owns(ILogger logger, string stream, string node);

        [LoggerMessage(61, LogLevel.Information, "Stream {Stream} released by node {Node}")]
        public static partial void Released(ILogger logger, string stream, string node);
    }
}
