using System.Collections.Concurrent;
using System.Net;
using StreamMtl.Ingest.Sources;

namespace StreamMtl.Ingest.Tests.Infrastructure;

/// <summary>An egress policy for loopback tests: 127.0.0.1 on the listed ports only; it records every check it answers.</summary>
internal sealed class LoopbackPortPolicy(params int[] ports) : IEgressPolicy
{
    private readonly ConcurrentQueue<string> _checked = new();

    /// <summary>"host:port" of every check, in order.</summary>
    public IReadOnlyList<string> Checked => [.. _checked];

    public ValueTask<EgressDecision> CheckAsync(string host, int port, CancellationToken cancellationToken)
    {
        _checked.Enqueue($"{host}:{port}");
        return ValueTask.FromResult(host == "127.0.0.1" && ports.Contains(port)
            ? EgressDecision.Allowed([IPAddress.Loopback])
            : EgressDecision.Refused($"host '{host}:{port}' is not in the allowed hosts"));
    }
}
