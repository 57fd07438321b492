using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans;
using Orleans.Runtime;
using Orleans.Runtime.Placement;
using StreamMtl.Server.Configuration;

namespace StreamMtl.Server.Cluster;

/// <summary>
/// The cluster's durable stream registry and placement (see <see cref="IStreamCatalogGrain"/>). Membership and failure
/// detection are Orleans': every period the registry reads the live silos and re-places the streams whose owner is no
/// longer active (failover) or is leaving (handover), each with Orleans' placement hint so its grain activates on the
/// chosen node. State (stream definitions and owners) is in the cluster's grain storage.
/// </summary>
[KeepAlive]
public sealed partial class StreamCatalogGrain(
    [PersistentState("catalog", ClusterHosting.Storage)] IPersistentState<CatalogState> state,
    IClusterMembershipService membership,
    IClusterEvents events,
    IOptions<ServiceOptions> options,
    ILogger<StreamCatalogGrain> logger) : Grain, IStreamCatalogGrain
{
    private readonly Dictionary<SiloAddress, NodeReport> _nodes = [];
    private readonly HashSet<SiloAddress> _draining = [];

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var period = options.Value.Cluster.ReconcilePeriod;
        this.RegisterGrainTimer(async _ => await Reconcile(), new GrainTimerCreationOptions(period, period) { KeepAlive = true });
        return Task.CompletedTask;
    }

    public Task Report(NodeReport report)
    {
        _nodes[report.Silo] = report;
        return Task.CompletedTask;
    }

    public async Task<AddAnswer> Add(StreamRecord record)
    {
        var streams = state.State.Streams;
        if (streams.ContainsKey(record.Id))
        {
            return new AddAnswer(new Outcome((int)Grpc.Core.StatusCode.AlreadyExists, $"stream '{record.Id}' exists"), null);
        }
        var (answer, _) = await PlaceAsync(record);
        if (answer is null)
        {
            return new AddAnswer(new Outcome((int)Grpc.Core.StatusCode.ResourceExhausted,
                $"no node has a free stream slot or cost budget ({LiveNodes().Count()} node(s); Limits:MaxStreams and Limits:Node* each)"), null);
        }
        if (!answer.Outcome.Succeeded)
        {
            state.State.Epochs.Remove(record.Id);
            return new AddAnswer(answer.Outcome, null);
        }
        streams[record.Id] = record;
        state.State.Owners[record.Id] = answer.Silo;
        await state.WriteStateAsync();
        events.Placed(record.Id, "added");
        return new AddAnswer(Outcome.Ok, Location(record.Id));
    }

    public async Task<bool> Remove(string id)
    {
        if (!state.State.Streams.Remove(id))
        {
            return false;
        }
        state.State.Owners.Remove(id);
        var owner = Grain(id);
        state.State.Epochs.Remove(id);
        await state.WriteStateAsync();
        await owner.Release();
        return true;
    }

    public Task<StreamLocation[]> List() =>
        Task.FromResult(state.State.Streams.Keys.Order(StringComparer.Ordinal).Select(Location).ToArray());

    public Task<StreamLocation?> Locate(string id) =>
        Task.FromResult(state.State.Streams.ContainsKey(id) ? Location(id) : null);

    public async Task Drain(SiloAddress silo)
    {
        _draining.Add(silo);
        // A stream whose move failed (its new node refused or did not answer) is tried again before the node goes.
        for (int pass = 0; pass < 3 && (pass == 0 || state.State.Owners.Values.Any(silo.Equals)); pass++)
        {
            if (pass > 0)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(200));
            }
            await Reconcile();
        }
    }

    public async Task<int> Reconcile()
    {
        var active = membership.CurrentSnapshot.Members.Values.Where(m => m.Status == SiloStatus.Active).Select(m => m.SiloAddress).ToHashSet();
        foreach (var gone in _nodes.Keys.Where(s => !active.Contains(s)).ToList())
        {
            _nodes.Remove(gone);
        }
        _draining.IntersectWith(active);
        var owners = state.State.Owners;
        int moved = 0;
        bool changed = false;
        foreach (var (id, record) in state.State.Streams.OrderBy(s => s.Key, StringComparer.Ordinal))
        {
            var owner = owners.GetValueOrDefault(id);
            EnsureAnswer? answer;
            NodeReport? target;
            string reason;
            if (owner is not null && active.Contains(owner) && !_draining.Contains(owner))
            {
                // Desired against actual: a live owner that no longer reports the stream (its grain was deactivated, e.g.
                // when the directory partition that held it died with another node) gets it started again.
                if (!_nodes.TryGetValue(owner, out var report) || report.Streams.Contains(id, StringComparer.Ordinal))
                {
                    continue;
                }
                (target, reason) = (report, "restart");
                answer = await EnsureOn(record, target.Silo);
            }
            else
            {
                reason = owner is null ? "placement" : active.Contains(owner) ? "handover" : "failover";
                if (reason == "handover" && StreamPlacement.Choose(LiveNodes(), Assigned(), _draining) is not null)
                {
                    await Grain(id).Release();
                }
                (answer, target) = await PlaceAsync(record);
            }
            if (answer is null || target is null)
            {
                Log.NoCapacity(logger, id, reason);
                continue;
            }
            if (reason == "restart" && answer.Outcome.Succeeded && !answer.Started)
            {
                // The owner's report predates the stream's start (a report in flight while it was placed): nothing to do.
                continue;
            }
            if (answer.Outcome.Succeeded)
            {
                owners[id] = answer.Silo;
                changed = true;
                moved++;
                events.Placed(id, reason);
                Log.Moved(logger, id, reason, target.Name);
            }
            else
            {
                // The owner stays as it was, so the next pass retries for the same reason.
                Log.NotPlaced(logger, id, target.Name, answer.Outcome.Message);
            }
        }
        if (changed)
        {
            await state.WriteStateAsync();
        }
        return moved;
    }

    /// <summary>
    /// Starts the stream on the best-ranked node that admits it: a node whose own admission refuses it for cost
    /// (RESOURCE_EXHAUSTED: its pixel-rate or inference-rate budget) passes it to the next. (null, null) when no node
    /// has room; otherwise the last answer and the node it came from.
    /// </summary>
    private async Task<(EnsureAnswer? Answer, NodeReport? Node)> PlaceAsync(StreamRecord record)
    {
        (EnsureAnswer? Answer, NodeReport? Node) last = (null, null);
        foreach (var node in StreamPlacement.Rank(LiveNodes(), Assigned(), _draining))
        {
            // Every placement is a new owner grain (a new epoch in its key), so its first call carries the hint and
            // activates it on the chosen node, whatever became of the previous owner's activation.
            state.State.Epochs[record.Id] = state.State.Epochs.GetValueOrDefault(record.Id) + 1;
            last = (await EnsureOn(record, node.Silo), node);
            if (last.Answer.Outcome.Code != (int)Grpc.Core.StatusCode.ResourceExhausted)
            {
                break;
            }
        }
        return last;
    }

    private async Task<EnsureAnswer> EnsureOn(StreamRecord record, SiloAddress target)
    {
        RequestContext.Set(IPlacementDirector.PlacementHintKey, target);
        try
        {
            return await Grain(record.Id).Ensure(record, target);
        }
        catch (Exception e) when (e is OrleansException or TimeoutException or SiloUnavailableException)
        {
            return new EnsureAnswer(new Outcome((int)Grpc.Core.StatusCode.Unavailable, $"node {target} did not answer: {e.Message}"), target);
        }
        finally
        {
            RequestContext.Remove(IPlacementDirector.PlacementHintKey);
        }
    }

    /// <summary>The stream's current owner grain: key "ID@EPOCH"; the epoch grows with every placement.</summary>
    private IStreamGrain Grain(string id) =>
        GrainFactory.GetGrain<IStreamGrain>(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{id}@{state.State.Epochs.GetValueOrDefault(id)}"));

    private IEnumerable<NodeReport> LiveNodes() => _nodes.Values;

    private Dictionary<SiloAddress, int> Assigned() =>
        state.State.Owners.Values.GroupBy(s => s).ToDictionary(g => g.Key, g => g.Count());

    private StreamLocation Location(string id)
    {
        var record = state.State.Streams[id];
        return state.State.Owners.GetValueOrDefault(id) is { } owner && _nodes.TryGetValue(owner, out var node)
            ? new StreamLocation(id, node.Name, node.GrpcEndpoint, record.DisplayUri)
            : new StreamLocation(id, "", "", record.DisplayUri);
    }

    private static partial class Log
    {
        [LoggerMessage(62, LogLevel.Information, "Stream {Stream} placed ({Reason}) on node {Node}")]
        public static partial void Moved(ILogger logger, string stream, string reason, string node);

        [LoggerMessage(63, LogLevel.Warning, "Stream {Stream} not placed on node {Node}: {Error}")]
        public static partial void NotPlaced(ILogger logger, string stream, string node, string error);

        [LoggerMessage(64, LogLevel.Warning, "Stream {Stream} waits for a free slot ({Reason}): every node is at Limits:MaxStreams or its cost budget")]
        public static partial void NoCapacity(ILogger logger, string stream, string reason);
    }
}
