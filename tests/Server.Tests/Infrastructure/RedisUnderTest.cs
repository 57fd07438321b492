using System.Globalization;
using StreamMtl.Tests.Shared;

namespace StreamMtl.Server.Tests.Infrastructure;

/// <summary>A real redis-server (Debian's, from scripts/install-deps.sh) on a free loopback port, without persistence, for cluster tests.</summary>
public sealed class RedisUnderTest : IAsyncDisposable
{
    private readonly ChildProcess _process;

    private RedisUnderTest(ChildProcess process, int port)
    {
        _process = process;
        Port = port;
    }

    public int Port { get; }

    /// <summary>What serve --cluster takes.</summary>
    public string Uri => $"redis://127.0.0.1:{Port}";

    /// <summary>The configuration of a cluster node named <paramref name="node"/> on this Redis (for ServerUnderTest), with a short handover.</summary>
    public Dictionary<string, string?> NodeConfig(string node) => new()
    {
        ["StreamMtl:Cluster:Redis"] = $"127.0.0.1:{Port}",
        ["StreamMtl:Cluster:SiloPort"] = FreePort.Next().ToString(CultureInfo.InvariantCulture),
        ["StreamMtl:Cluster:NodeName"] = node,
        ["StreamMtl:Cluster:HandoverTimeout"] = "00:00:02",
    };

    public static async Task<RedisUnderTest> StartAsync()
    {
        int port = FreePort.Next();
        var process = ChildProcess.Start("redis-server", ["--port", port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]);
        await Eventually.UntilAsync(() => Task.FromResult(Listening(port) || process.HasExited), TimeSpan.FromSeconds(20), () => process.Output);
        if (process.HasExited)
        {
            await process.DisposeAsync();
            throw new InvalidOperationException("redis-server exited: " + process.Output);
        }
        return new RedisUnderTest(process, port);
    }

    private static bool Listening(int port)
    {
        try
        {
            using var client = new System.Net.Sockets.TcpClient();
            client.Connect(System.Net.IPAddress.Loopback, port);
            return true;
        }
        catch (System.Net.Sockets.SocketException)
        {
            return false;
        }
    }

    public ValueTask DisposeAsync() => _process.DisposeAsync();
}
