using Grpc.Core;
using Microsoft.Extensions.Options;
using StreamMtl.Api.V1;
using Task = System.Threading.Tasks.Task;
using StreamMtl.Pipeline.Streams;
using StreamMtl.Server.Configuration;
using StreamMtl.Server.Security;
using StreamMtl.Server.Service;

namespace StreamMtl.Server.Cluster;

/// <summary>The real node side: a stream grain's start runs the same AddStream path as a single node (admission, cost, the registry).</summary>
public sealed class NodeStreams(StreamCommands commands, StreamRegistry registry, CostLedger ledger, IOptions<ServiceOptions> options) : ILocalStreams
{
    private readonly ServiceOptions _options = options.Value;

    public string NodeName => ClusterHosting.NodeName(_options);

    public string GrpcEndpoint => ClusterHosting.GrpcEndpoint(_options);

    public int Limit => _options.Limits.MaxStreams;

    public double Load
    {
        get
        {
            var charged = ledger.Charged(null);
            var limits = _options.Limits;
            return Math.Max(charged.MegapixelsPerSecond / limits.NodeMegapixelsPerSecond, charged.TaskFramesPerSecond / limits.NodeTaskFramesPerSecond);
        }
    }

    public IReadOnlyCollection<string> Running => [.. registry.All.Select(s => s.Id)];

    public async Task<Outcome> StartAsync(StreamRecord record)
    {
        if (registry.Find(record.Id) is not null)
        {
            return Outcome.Ok;
        }
        try
        {
            await commands.AddAsync(AddStreamRequest.Parser.ParseFrom(record.Request), record.Client, CancellationToken.None);
            return Outcome.Ok;
        }
        catch (RpcException e)
        {
            return new Outcome((int)e.StatusCode, e.Status.Detail);
        }
    }

    public async Task StopAsync(string id)
    {
        try
        {
            await commands.RemoveAsync(id);
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.NotFound)
        {
            // Already gone (the registry was disposed at shutdown).
        }
    }
}
