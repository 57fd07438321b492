using System.Net;
using System.Net.Sockets;

namespace StreamMtl.Tests.Shared;

/// <summary>Asks the kernel for an unused loopback TCP port.</summary>
internal static class FreePort
{
    public static int Next()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
