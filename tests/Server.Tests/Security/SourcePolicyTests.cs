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
    public void Schemes_can_be_restricted() => Assert.Contains("scheme", Policy(["synthetic"]).Check("rtsp://cam1.local/live"));
}
