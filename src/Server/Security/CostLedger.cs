using StreamMtl.Pipeline.Streams;
using StreamMtl.Server.Configuration;

namespace StreamMtl.Server.Security;

/// <summary>
/// Admission by cost, not count: every stream's <see cref="StreamCost"/> is charged to the node and, for API streams, to
/// the client that added it, against Limits:Node* and Limits:Client* budgets. Streams from configuration are trusted:
/// charged to the node, never refused. A charge is held until the stream is removed.
/// </summary>
public sealed class CostLedger(LimitOptions limits)
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, (string? Client, StreamCost Cost)> _charges = new(StringComparer.Ordinal);

    /// <summary>Charges <paramref name="streamId"/>; a <see cref="FailureKind.ResourceExhausted"/> failure naming the budget when it does not fit.</summary>
    public Failure? TryCharge(string streamId, string? client, StreamCost cost)
    {
        lock (_gate)
        {
            if (_charges.ContainsKey(streamId))
            {
                return null; // a duplicate id: the registry refuses it, and the existing charge stays
            }
            if (client is not null)
            {
                var node = Sum(null).Plus(cost);
                var mine = Sum(client).Plus(cost);
                string? over =
                    Over(node.MegapixelsPerSecond, limits.NodeMegapixelsPerSecond, "Limits:NodeMegapixelsPerSecond", "the node's source pixel rate", cost)
                    ?? Over(node.TaskFramesPerSecond, limits.NodeTaskFramesPerSecond, "Limits:NodeTaskFramesPerSecond", "the node's inference rate", cost)
                    ?? Over(mine.MegapixelsPerSecond, limits.ClientMegapixelsPerSecond, "Limits:ClientMegapixelsPerSecond", "this client's source pixel rate", cost)
                    ?? Over(mine.TaskFramesPerSecond, limits.ClientTaskFramesPerSecond, "Limits:ClientTaskFramesPerSecond", "this client's inference rate", cost);
                if (over is not null)
                {
                    return new Failure(FailureKind.ResourceExhausted, over);
                }
            }
            _charges[streamId] = (client, cost);
            return null;
        }
    }

    public void Release(string streamId)
    {
        lock (_gate)
        {
            _charges.Remove(streamId);
        }
    }

    /// <summary>What the node (client null) or one client is charged now.</summary>
    public StreamCost Charged(string? client)
    {
        lock (_gate)
        {
            return Sum(client);
        }
    }

    private StreamCost Sum(string? client) => _charges.Values
        .Where(c => client is null || c.Client == client)
        .Aggregate(StreamCost.Zero, (sum, c) => sum.Plus(c.Cost));

    private static string? Over(double total, double budget, string setting, string what, StreamCost cost) =>
        total > budget + 1e-9
            ? $"the stream would take {what} to {total:0.#} of {budget:0.#} ({setting}); it costs {cost} (declare a smaller size or max_fps, or remove a stream)"
            : null;
}
