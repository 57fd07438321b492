using System.Collections.Concurrent;
using Orleans.Runtime;
using StreamMtl.Server.Cluster;

namespace StreamMtl.Server.Tests.Cluster;

/// <summary>
/// What every silo of an in-process test cluster ran: per silo the streams running now, and every start. Shared by the
/// silos of one test (one process), so a test sees the whole cluster and can check single ownership.
/// </summary>
internal sealed class NodeLedger
{
    private readonly Lock _gate = new();
    private readonly Dictionary<SiloAddress, HashSet<string>> _running = [];
    private readonly List<(string Stream, SiloAddress Silo)> _starts = [];

    public int Violations { get; private set; }

    /// <summary>Nodes whose cost budget is spent: they refuse "wide" streams as the real admission would, though they report no load.</summary>
    public ConcurrentDictionary<SiloAddress, bool> Tight { get; } = new();

    public void Start(SiloAddress silo, string id)
    {
        lock (_gate)
        {
            // Two live copies of one stream: the registry's single-ownership promise is broken.
            if (_running.Any(r => !r.Key.Equals(silo) && r.Value.Contains(id)))
            {
                Violations++;
            }
            Set(silo).Add(id);
            _starts.Add((id, silo));
        }
    }

    public void Stop(SiloAddress silo, string id)
    {
        lock (_gate)
        {
            Set(silo).Remove(id);
        }
    }

    /// <summary>A killed silo's streams died with it.</summary>
    public void Kill(SiloAddress silo)
    {
        lock (_gate)
        {
            _running.Remove(silo);
        }
    }

    public IReadOnlyCollection<string> Running(SiloAddress silo)
    {
        lock (_gate)
        {
            return [.. Set(silo)];
        }
    }

    public Dictionary<string, SiloAddress> Owners()
    {
        lock (_gate)
        {
            return _running.SelectMany(r => r.Value.Select(id => (id, r.Key))).ToDictionary(p => p.id, p => p.Key, StringComparer.Ordinal);
        }
    }

    public int Starts(string id)
    {
        lock (_gate)
        {
            return _starts.Count(s => s.Stream == id);
        }
    }

    private HashSet<string> Set(SiloAddress silo) => _running.TryGetValue(silo, out var set) ? set : _running[silo] = new(StringComparer.Ordinal);
}

/// <summary>
/// A silo's node side without a pipeline: starts and stops are recorded; ids starting "bad" are refused as the API would
/// (INVALID_ARGUMENT), ids starting "wide" on a <see cref="NodeLedger.Tight"/> node as its cost admission would (RESOURCE_EXHAUSTED).
/// </summary>
internal sealed class FakeNodeStreams(ILocalSiloDetails silo, NodeLedger ledger, int limit) : ILocalStreams
{
    public string NodeName => silo.SiloAddress.ToString();

    public string GrpcEndpoint => "http://" + silo.SiloAddress.Endpoint;

    public int Limit => limit;

    public double Load => 0;

    public IReadOnlyCollection<string> Running => ledger.Running(silo.SiloAddress);

    public Task<Outcome> StartAsync(StreamRecord record)
    {
        if (record.Id.StartsWith("bad", StringComparison.Ordinal))
        {
            return Task.FromResult(new Outcome((int)Grpc.Core.StatusCode.InvalidArgument, $"source of '{record.Id}' refused"));
        }
        if (record.Id.StartsWith("wide", StringComparison.Ordinal) && ledger.Tight.ContainsKey(silo.SiloAddress))
        {
            return Task.FromResult(new Outcome((int)Grpc.Core.StatusCode.ResourceExhausted, $"'{record.Id}' would take the node's inference rate over its budget"));
        }
        ledger.Start(silo.SiloAddress, record.Id);
        return Task.FromResult(Outcome.Ok);
    }

    public Task StopAsync(string id)
    {
        ledger.Stop(silo.SiloAddress, id);
        return Task.CompletedTask;
    }
}

/// <summary>Placements by reason, across the cluster.</summary>
internal sealed class RecordedEvents : IClusterEvents
{
    private readonly ConcurrentQueue<(string Stream, string Reason)> _placed = new();

    public IReadOnlyList<(string Stream, string Reason)> Placed => [.. _placed];

    void IClusterEvents.Placed(string stream, string reason) => _placed.Enqueue((stream, reason));
}
