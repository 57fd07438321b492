using StreamMtl.Server.Configuration;
using StreamMtl.Server.Security;

namespace StreamMtl.Server.Tests.Security;

public sealed class SourcePolicyTests
{
    private static readonly string Allowed = Directory.CreateTempSubdirectory("streammtl-policy").FullName;

    private static SourcePolicy Policy(string[]? schemes = null) => new(new SecurityOptions
    {
        AllowedSchemes = schemes,
        AllowedHosts = ["cam1.local", "*.cams.example.com", "10.0.0.5"],
        AllowedDirectories = [Allowed],
    });

    [Theory]
    [InlineData("synthetic://static?seed=1")]
    [InlineData("rtsp://cam1.local/live")]
    [InlineData("rtsp://user:pw@door.cams.example.com:8554/live#width=640&height=360")]
    [InlineData("http://10.0.0.5/mjpeg")]
    public void Allowed_sources_pass(string uri) => Assert.Null(Policy().Check(uri));

    [Theory]
    [InlineData("rtsp://evil.example.org/live", "host")]
    [InlineData("rtsp://cams.example.com.evil.org/live", "host")]
    [InlineData("http://169.254.169.254/latest/meta-data", "host")]
    [InlineData("/etc/passwd", "not below")]
    [InlineData("file:///etc/passwd", "not below")]
    [InlineData("relative/clip.mp4", "not below")]
    [InlineData("gopher://cam1.local/", "scheme")]
    [InlineData("", "empty")]
    public void Disallowed_sources_say_why(string uri, string reason) => Assert.Contains(reason, Policy().Check(uri));

    [Fact]
    public void Files_below_an_allowed_directory_pass_but_dot_dot_and_symlinks_out_do_not()
    {
        string clip = Path.Combine(Allowed, "clip.mp4");
        File.WriteAllText(clip, "x");
        Assert.Null(Policy().Check(clip));
        Assert.Null(Policy().Check("file://" + clip + "#loop=1"));
        Assert.NotNull(Policy().Check(Path.Combine(Allowed, "..", "escape.mp4")));
        string link = Path.Combine(Allowed, "link.mp4");
        if (!File.Exists(link))
        {
            File.CreateSymbolicLink(link, "/etc/hostname");
        }
        Assert.NotNull(Policy().Check(link));
    }

    [Fact]
    public async Task A_name_resolving_to_loopback_is_refused_unless_the_address_is_listed_too()
    {
        int port = FreePort.Next();
        var nameOnly = new SourcePolicy(new SecurityOptions { AllowedHosts = ["localhost"] });
        var withAddress = new SourcePolicy(new SecurityOptions { AllowedHosts = ["localhost", "127.0.0.1", "::1"] });

        var refused = await nameOnly.CheckSourceAsync($"http://localhost:{port}/x", CancellationToken.None);
        var decision = await nameOnly.CheckAsync("localhost", port, CancellationToken.None);

        Assert.Contains($"host 'localhost:{port}'", refused);
        Assert.Contains("loopback", refused);
        Assert.False(decision.IsAllowed);
        Assert.Null(nameOnly.Check($"http://localhost:{port}/x")); // the listed name alone passes the synchronous check
        Assert.Null(await withAddress.CheckSourceAsync($"http://localhost:{port}/x", CancellationToken.None));
        var allowed = await withAddress.CheckAsync("localhost", port, CancellationToken.None);
        Assert.True(allowed.IsAllowed);
        Assert.All(allowed.Addresses, a => Assert.True(System.Net.IPAddress.IsLoopback(a)));
    }

    [Theory]
    [InlineData("169.254.169.254", "link-local")]
    [InlineData("10.1.2.3", "private")]
    [InlineData("172.16.0.1", "private")]
    [InlineData("192.168.1.1", "private")]
    [InlineData("100.64.0.1", "carrier-grade NAT")]
    [InlineData("0.0.0.0", "this-network")]
    [InlineData("::ffff:127.0.0.1", "loopback")]
    [InlineData("fe80::1", "link-local")]
    [InlineData("fd00::1", "unique-local")]
    [InlineData("::1", "loopback")]
    public async Task Internal_addresses_reached_through_a_wildcard_are_refused(string address, string rule)
    {
        var policy = new SourcePolicy(new SecurityOptions { AllowedHosts = ["*"] });

        var decision = await policy.CheckAsync(address, 80, CancellationToken.None);

        Assert.False(decision.IsAllowed);
        Assert.Contains(rule, decision.Reason);
    }

    [Theory]
    [InlineData("8.8.8.8")]
    [InlineData("172.32.0.1")]
    [InlineData("2001:4860::8888")]
    public async Task Public_addresses_pass_a_wildcard(string address) =>
        Assert.True((await new SourcePolicy(new SecurityOptions { AllowedHosts = ["*"] }).CheckAsync(address, 80, CancellationToken.None)).IsAllowed);

    [Fact]
    public async Task Host_and_port_entries_allow_that_port_only()
    {
        var policy = new SourcePolicy(new SecurityOptions { AllowedHosts = ["127.0.0.1:8554", "[::1]:9000", "*.cams.example.com:443"] });

        Assert.True((await policy.CheckAsync("127.0.0.1", 8554, CancellationToken.None)).IsAllowed);
        Assert.Contains("'127.0.0.1:8555' is not in the allowed hosts", (await policy.CheckAsync("127.0.0.1", 8555, CancellationToken.None)).Reason);
        Assert.True((await policy.CheckAsync("::1", 9000, CancellationToken.None)).IsAllowed);
        Assert.False((await policy.CheckAsync("::1", 9001, CancellationToken.None)).IsAllowed);
        Assert.Null(policy.Check("rtsp://127.0.0.1:8554/live"));
        Assert.NotNull(policy.Check("rtsp://127.0.0.1/live")); // default port 554
        Assert.Null(policy.Check("https://door.cams.example.com/live.m3u8"));
        Assert.NotNull(policy.Check("http://door.cams.example.com/live.m3u8")); // port 80
    }

    [Fact]
    public async Task A_name_that_does_not_resolve_is_refused_for_now_but_not_at_the_door()
    {
        var policy = new SourcePolicy(new SecurityOptions { AllowedHosts = ["*.invalid"] });

        var decision = await policy.CheckAsync("camera.invalid", 554, CancellationToken.None);

        Assert.False(decision.IsAllowed);
        Assert.True(decision.IsTransient);
        Assert.Contains("could not be resolved", decision.Reason);
        Assert.Null(await policy.CheckSourceAsync("rtsp://camera.invalid/live", CancellationToken.None));
    }

    [Fact]
    public void Schemes_can_be_restricted() => Assert.Contains("scheme", Policy(["synthetic"]).Check("rtsp://cam1.local/live"));
}
