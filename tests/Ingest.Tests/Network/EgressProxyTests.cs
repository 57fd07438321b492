using System.Net.Sockets;
using System.Text;
using StreamMtl.Ingest.Network;
using StreamMtl.Ingest.Sources;
using StreamMtl.Ingest.Supervision;
using StreamMtl.Ingest.Tests.Infrastructure;

namespace StreamMtl.Ingest.Tests.Network;

/// <summary>
/// An http source with an egress policy reaches only what the policy allows, through redirects and HLS playlists too:
/// real ffmpeg, real loopback HTTP origins, the non-allowed one counting every request it gets.
/// </summary>
[Collection(RtspCollection.Name)]
public sealed class EgressProxyTests
{
    private const string Secret = "TOP-SECRET-METADATA-7f3a";
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);
    private readonly FrameSourceFactory _factory = new();

    [Fact]
    public async Task A_redirect_to_a_host_not_allowed_is_never_followed()
    {
        await using var hidden = new HttpOrigin().Serve("secret", Secret);
        await using var allowed = new HttpOrigin().Redirect("redir", hidden.Url("secret"));

        var error = await FailAsync(allowed.Url("redir"), new LoopbackPortPolicy(allowed.Port));

        AssertRefused(error, hidden);
    }

    [Fact]
    public async Task A_playlist_listing_segments_on_a_host_not_allowed_is_refused()
    {
        await using var hidden = new HttpOrigin().Serve("seg0.ts", Secret);
        await using var allowed = new HttpOrigin().Serve("list.m3u8",
            $"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1.0,\n{hidden.Url("seg0.ts")}\n#EXTINF:1.0,\n{hidden.Url("seg1.ts")}\n#EXT-X-ENDLIST\n");

        var error = await FailAsync(allowed.Url("list.m3u8"), new LoopbackPortPolicy(allowed.Port));

        AssertRefused(error, hidden);
    }

    [Fact]
    public async Task An_hls_stream_on_the_allowed_host_plays_through_the_proxy()
    {
        using var folder = new TempDirectory();
        Ffmpeg.Run(["-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-t", "3", "-i", TestPaths.Video("vtest.avi"), "-vf", "scale=160:120",
            "-g", "10", "-bf", "0", "-an", "-f", "hls", "-hls_time", "1", "-hls_list_size", "0", "-hls_segment_filename", folder.File("seg%d.ts"),
            folder.File("index.m3u8")], TimeSpan.FromSeconds(60));
        await using var allowed = new HttpOrigin(folder.Path);
        var policy = new LoopbackPortPolicy(allowed.Port);
        var source = _factory.Create(allowed.Url("index.m3u8"), new SourceOptions { Egress = policy });

        var frames = await Eventually.Within(SourceReads.CountAsync(source, 5), Bound);

        Assert.Equal(5, frames);
        Assert.Equal(160, source.Info.Width);
        // The playlist and at least one segment were asked for through the proxy's check.
        Assert.True(policy.Checked.Count >= 2, string.Join(", ", policy.Checked));
        Assert.All(policy.Checked, target => Assert.Equal($"127.0.0.1:{allowed.Port}", target));
    }

    [Fact]
    public async Task A_playlist_naming_a_local_file_is_refused_by_the_protocol_whitelist()
    {
        using var folder = new TempDirectory();
        var local = folder.File("secret.ts");
        await File.WriteAllTextAsync(local, Secret);
        await using var allowed = new HttpOrigin().Serve("list.m3u8", $"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1.0,\nfile://{local}\n#EXT-X-ENDLIST\n");

        // Trusted (no egress policy): the whitelist holds on its own.
        var error = await FailAsync(allowed.Url("list.m3u8"), policy: null);

        Assert.Contains("whitelist", error.Message);
        Assert.DoesNotContain(Secret, error.Message);
    }

    [Fact]
    public async Task An_rtsp_host_not_allowed_is_refused_before_ffmpeg_starts()
    {
        var port = FreePort.Next();
        var source = _factory.Create($"rtsp://127.0.0.1:{port}/cam", new SourceOptions { Egress = new LoopbackPortPolicy(port + 1) });

        var error = await Assert.ThrowsAsync<SourceException>(() => Eventually.Within(SourceReads.CountAsync(source, 1), Bound));

        Assert.Equal(SourceErrorKind.Forbidden, error.Kind);
        Assert.Contains($"127.0.0.1:{port}", error.Message);
        Assert.Empty(ChildProcesses.Matching($"127.0.0.1:{port}"));
    }

    [Fact]
    public async Task The_proxy_answers_a_refused_target_with_a_bare_403_and_records_it()
    {
        await using var hidden = new HttpOrigin().Serve("secret", Secret);
        await using var proxy = EgressProxy.Start(new LoopbackPortPolicy(), "test");
        using var client = new TcpClient();
        await client.ConnectAsync("127.0.0.1", proxy.Port);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes($"GET {hidden.Url("secret")} HTTP/1.1\r\nHost: x\r\nProxy-Authorization: Basic eA==\r\n\r\n"));
        using var reader = new StreamReader(stream, Encoding.ASCII);

        var answer = await Eventually.Within(reader.ReadToEndAsync(), Bound);

        Assert.StartsWith("HTTP/1.1 403 Forbidden", answer);
        Assert.DoesNotContain(Secret, answer);
        Assert.Equal(0, hidden.Requests);
        var refusal = Assert.Single(proxy.Refusals);
        Assert.Equal(("127.0.0.1", hidden.Port), (refusal.Host, refusal.Port));
    }

    private async Task<SourceException> FailAsync(string url, LoopbackPortPolicy? policy)
    {
        var source = _factory.Create(url, new SourceOptions { Egress = policy });
        var error = await Assert.ThrowsAsync<SourceException>(() => Eventually.Within(SourceReads.CountAsync(source, 1), Bound));
        Assert.Empty(ChildProcesses.Matching(url));
        return error;
    }

    private static void AssertRefused(SourceException error, HttpOrigin hidden)
    {
        Assert.Equal(SourceErrorKind.Forbidden, error.Kind);
        Assert.Contains($"egress refused: host '127.0.0.1:{hidden.Port}'", error.Message);
        Assert.Contains("redirect or playlist", error.Message);
        Assert.DoesNotContain(Secret, error.Message);
        Assert.Equal(0, hidden.Requests);
    }
}
