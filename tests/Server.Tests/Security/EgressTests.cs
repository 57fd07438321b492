using StreamMtl.Api.V1;
using StreamMtl.Server.Tests.Infrastructure;
using Task = System.Threading.Tasks.Task;

namespace StreamMtl.Server.Tests.Security;

/// <summary>
/// The allowlist holds end to end: an API stream whose allowed source redirects to a host that is not allowed fails, names
/// the refused host, and the other host never sees a request (real server, real ffmpeg, loopback HTTP origins).
/// </summary>
public sealed class EgressTests
{
    private const string Secret = "ami-id instance-id SECRET-CREDENTIALS-5c1e";

    [Fact]
    public async Task An_api_stream_redirected_to_a_host_not_allowed_fails_without_reaching_it()
    {
        await using var hidden = new HttpOrigin().Serve("latest/meta-data", Secret);
        await using var allowed = new HttpOrigin().Redirect("redir", hidden.Url("latest/meta-data"));
        await using var server = await ServerUnderTest.StartInProcessAsync(new Dictionary<string, string?>
        {
            // Same address, one port: the redirect target differs only in its port.
            ["StreamMtl:Security:AllowedHosts:0"] = $"127.0.0.1:{allowed.Port}",
        });

        await server.Client.AddStreamAsync(new AddStreamRequest { Id = "door", SourceUri = allowed.Url("redir"), AlwaysOn = true });
        await Eventually.UntilAsync(async () => (await server.Client.GetStreamAsync(new GetStreamRequest { Id = "door" })).State == StreamState.Failed,
            TimeSpan.FromSeconds(60), () => "the stream did not fail");

        var info = await server.Client.GetStreamAsync(new GetStreamRequest { Id = "door" });
        Assert.Contains($"egress refused: host '127.0.0.1:{hidden.Port}' is not in the allowed hosts", info.LastError);
        Assert.Contains("redirect or playlist", info.LastError);
        Assert.DoesNotContain("SECRET", info.LastError);
        Assert.True(allowed.Requests >= 1);
        Assert.Equal(0, hidden.Requests);
    }

    [Fact]
    public async Task An_api_stream_naming_a_listed_name_that_resolves_to_loopback_is_refused_at_the_door()
    {
        await using var origin = new HttpOrigin().Serve("x", Secret);
        await using var server = await ServerUnderTest.StartInProcessAsync(new Dictionary<string, string?>
        {
            ["StreamMtl:Security:AllowedHosts:0"] = "localhost",
        });

        var error = await RpcAssert.Fails(Grpc.Core.StatusCode.InvalidArgument, () =>
            server.Client.AddStreamAsync(new AddStreamRequest { Id = "door", SourceUri = $"http://localhost:{origin.Port}/x" }).ResponseAsync);

        Assert.Contains("loopback", error.Status.Detail);
        Assert.Equal(0, origin.Requests);
    }
}
