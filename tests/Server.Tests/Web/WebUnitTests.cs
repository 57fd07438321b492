using System.Net;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using StreamMtl.Pipeline.Model;
using StreamMtl.Pipeline.Results;
using StreamMtl.Pipeline.Runners;
using StreamMtl.Server.Configuration;
using StreamMtl.Server.Web;

namespace StreamMtl.Server.Tests.Web;

/// <summary>The web view's parts without a host: message framing, the viewer queue, sessions and cookies, the origin check.</summary>
public sealed class WebUnitTests
{
    private const string Key = "web-test-key-0123456789";

    [Fact]
    public void A_message_carries_the_header_and_every_payload()
    {
        var accounting = new FrameAccounting(new Dictionary<VisionTask, long> { [VisionTask.Segmentation] = 1000 },
            new Dictionary<VisionTask, long> { [VisionTask.Segmentation] = 250 },
            [new LayerTokens(VisionTask.Segmentation, "b0", 7, 80), new LayerTokens(VisionTask.Depth, "b1", 3, 80)], true, "start")
        {
            ComputeBudget = 0.6,
            Level = ComputeLevel.Coarse,
        };
        var capture = new DateTimeOffset(2026, 1, 2, 3, 4, 5, 678, TimeSpan.Zero).AddTicks(9000);
        var result = new EncodedResult("cam-é", 42, capture, accounting, [],
            [new EncodedOutput(VisionTask.Segmentation, PayloadFormat.PngLabels, 4, 4, 1, [1, 2, 3]),
             new EncodedOutput(VisionTask.Depth, PayloadFormat.Png16Depth, 4, 4, 0.001f, [4, 5]),
             new EncodedOutput(VisionTask.Normals, PayloadFormat.PngRgb8Normals, 4, 4, 1, [6])], [9, 9, 9, 9]);

        var decoded = ViewerMessage.Decode(ViewerMessage.Encode(result, dropped: 5));

        Assert.Equal("cam-é", decoded.StreamId);
        Assert.Equal(42, decoded.FrameIndex);
        Assert.Equal(capture.ToUnixTimeMilliseconds() + 0.9, decoded.CaptureUnixMs, 6);
        Assert.Equal(0.75f, decoded.FlopsSavedRatio);
        Assert.Equal(10, decoded.TokensRecomputed);
        Assert.Equal(160, decoded.TokensTotal);
        Assert.True(decoded.Keyframe);
        Assert.Equal(0.001f, decoded.DepthScale);
        Assert.Equal(5, decoded.Dropped);
        Assert.Equal(0.6f, decoded.ComputeBudget);
        Assert.Equal(ComputeLevel.Coarse, decoded.Level);
        Assert.Equal([9, 9, 9, 9], decoded.Parts[ViewerMessage.Part.InputJpeg]);
        Assert.Equal([1, 2, 3], decoded.Parts[ViewerMessage.Part.Labels]);
        Assert.Equal([4, 5], decoded.Parts[ViewerMessage.Part.Depth]);
        Assert.Equal([6], decoded.Parts[ViewerMessage.Part.Normals]);
    }

    [Fact]
    public void An_output_the_page_was_sent_last_goes_as_an_unchanged_part_without_bytes()
    {
        var accounting = new FrameAccounting(new Dictionary<VisionTask, long>(), new Dictionary<VisionTask, long>(), [], false, null);
        var depth = new EncodedOutput(VisionTask.Depth, PayloadFormat.Png16Depth, 4, 4, 0.001f, [4, 5]);
        EncodedResult Result(long frame) => new("cam", frame, DateTimeOffset.UnixEpoch, accounting, [],
            [new EncodedOutput(VisionTask.Segmentation, PayloadFormat.PngLabels, 4, 4, 1, [(byte)frame]), depth], null);
        var sent = new StreamMtl.Server.Service.UnchangedOutputs();

        var first = ViewerMessage.Decode(ViewerMessage.Encode(Result(1), 0, sent));
        var second = ViewerMessage.Decode(ViewerMessage.Encode(Result(2), 0, sent));

        Assert.Empty(first.Unchanged);
        Assert.Equal([4, 5], first.Parts[ViewerMessage.Part.Depth]);
        Assert.Equal([ViewerMessage.Part.Depth], second.Unchanged);
        Assert.False(second.Parts.ContainsKey(ViewerMessage.Part.Depth));
        Assert.Equal([2], second.Parts[ViewerMessage.Part.Labels]);
        // Without a record every part carries its bytes.
        Assert.Empty(ViewerMessage.Decode(ViewerMessage.Encode(Result(3), 0)).Unchanged);
    }

    [Fact]
    public void The_page_reads_the_message_version_the_server_writes()
    {
        string script = File.ReadAllText(Path.Combine(RepositoryFiles.Root(), "src", "Server", "Web", "wwwroot", "app.js"));
        var version = System.Text.RegularExpressions.Regex.Match(script, @"const MESSAGE_VERSION = (\d+);");
        Assert.True(version.Success, "app.js declares no MESSAGE_VERSION");
        Assert.Equal(ViewerMessage.Version.ToString(System.Globalization.CultureInfo.InvariantCulture), version.Groups[1].Value);
    }

    /// <summary>Frames are made when sent: one the queue dropped never counts as sent, so the next carries the output.</summary>
    [Fact]
    public async Task A_frame_the_queue_dropped_does_not_count_as_sent()
    {
        var accounting = new FrameAccounting(new Dictionary<VisionTask, long>(), new Dictionary<VisionTask, long>(), [], false, null);
        var depth = new EncodedOutput(VisionTask.Depth, PayloadFormat.Png16Depth, 4, 4, 0.001f, [4, 5]);
        var sent = new StreamMtl.Server.Service.UnchangedOutputs();
        var queue = new ViewerQueue(1);
        foreach (long frame in new long[] { 1, 2 })
        {
            var result = new EncodedResult("cam", frame, DateTimeOffset.UnixEpoch, accounting, [], [depth], null);
            queue.Offer(new ViewerQueue.Item(() => ViewerMessage.Encode(result, 0, sent), Text: false));
        }
        queue.Complete();

        var messages = new List<ViewerMessage.Decoded>();
        await foreach (var item in queue.ReadAllAsync(CancellationToken.None))
        {
            messages.Add(ViewerMessage.Decode(item.Message()));
        }
        var only = Assert.Single(messages);
        Assert.Equal(2, only.FrameIndex);
        Assert.Equal([4, 5], only.Parts[ViewerMessage.Part.Depth]);
        Assert.Equal(1, queue.Dropped);
    }

    [Fact]
    public void A_truncated_message_is_a_format_error()
    {
        var accounting = new FrameAccounting(new Dictionary<VisionTask, long>(), new Dictionary<VisionTask, long>(), [], false, null);
        byte[] message = ViewerMessage.Encode(new EncodedResult("a", 1, DateTimeOffset.UnixEpoch, accounting, [],
            [new EncodedOutput(VisionTask.Segmentation, PayloadFormat.PngLabels, 1, 1, 1, [1, 2, 3])], null), 0);

        Assert.Throws<FormatException>(() => ViewerMessage.Decode(message.AsSpan(0, message.Length - 1)));
        Assert.Throws<FormatException>(() => ViewerMessage.Decode(message.AsSpan(0, 10)));
    }

    [Fact]
    public async Task The_viewer_queue_drops_the_oldest_and_counts_it()
    {
        var queue = new ViewerQueue(2);
        for (byte i = 1; i <= 5; i++)
        {
            byte value = i;
            queue.Offer(new ViewerQueue.Item(() => [value], Text: false));
        }
        queue.Complete();

        var kept = new List<byte>();
        await foreach (var item in queue.ReadAllAsync(CancellationToken.None))
        {
            kept.Add(item.Message()[0]);
        }
        Assert.Equal([4, 5], kept);
        Assert.Equal(3, queue.Dropped);
    }

    [Fact]
    public void Without_keys_everyone_on_the_bind_address_may_view()
    {
        var access = Access([]);
        var context = new DefaultHttpContext();
        context.Connection.RemoteIpAddress = IPAddress.Loopback;

        Assert.False(access.KeysRequired);
        Assert.Equal("ip:127.0.0.1", access.ClientOf(context));
        Assert.Null(access.Login(Key));
    }

    [Fact]
    public void A_login_exchanges_the_key_for_an_http_only_strict_session_cookie()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        var access = Access([Key], time);

        Assert.Null(access.Login("wrong-key-0123456789"));
        Assert.Null(access.Login(null));
        string token = access.Login(Key)!;
        Assert.Matches("^[0-9a-f]{64}$", token);

        var login = new DefaultHttpContext();
        WebAccess.SetCookie(login, token);
        string cookie = login.Response.Headers.SetCookie.ToString().ToLowerInvariant();
        Assert.Contains("httponly", cookie);
        Assert.Contains("samesite=strict", cookie);
        Assert.DoesNotContain(Key.ToLowerInvariant(), cookie);

        Assert.Null(access.ClientOf(new DefaultHttpContext()));
        Assert.Null(access.ClientOf(WithCookie("0000")));
        string client = access.ClientOf(WithCookie(token))!;
        Assert.StartsWith("key:", client);
        Assert.DoesNotContain(Key, client);

        time.Advance(WebAccess.SessionLifetime + TimeSpan.FromSeconds(1));
        Assert.Null(access.ClientOf(WithCookie(token)));
    }

    [Fact]
    public void A_logout_ends_the_session()
    {
        var access = Access([Key]);
        string token = access.Login(Key)!;
        var context = WithCookie(token);

        access.Logout(context);

        Assert.Null(access.ClientOf(WithCookie(token)));
    }

    [Theory]
    [InlineData("http://127.0.0.1:9464", true)]
    [InlineData("HTTP://127.0.0.1:9464", true)]
    [InlineData("http://127.0.0.1:9465", false)]
    [InlineData("https://127.0.0.1:9464", false)]
    [InlineData("http://evil.example", false)]
    [InlineData("null", false)]
    [InlineData(null, false)]
    public void Only_the_same_origin_passes(string? origin, bool same)
    {
        var context = new DefaultHttpContext();
        context.Request.Scheme = "http";
        context.Request.Host = new HostString("127.0.0.1", 9464);
        if (origin != null)
        {
            context.Request.Headers.Origin = origin;
        }

        Assert.Equal(same, WebAccess.SameOrigin(context.Request));
    }

    [Theory]
    [InlineData("{\"show\":{\"a\":[\"segmentation\",\"Depth\"],\"b\":[]}}", null)]
    [InlineData("{\"show\":{\"a\":[\"colour\"]}}", "unknown task")]
    [InlineData("{\"show\":{\"a\":\"depth\"}}", "expected an array")]
    [InlineData("{\"hide\":{}}", "expected {\"show\"")]
    [InlineData("{not json", "bad JSON")]
    public void A_page_message_says_which_streams_and_tasks_it_shows(string json, string? error)
    {
        var show = ViewerConnection.ParseShow(Encoding.UTF8.GetBytes(json), out var problem);

        if (error == null)
        {
            Assert.Equal([Api.V1.Task.Segmentation, Api.V1.Task.Depth], show!["a"]);
            Assert.Empty(show["b"]);
        }
        else
        {
            Assert.Null(show);
            Assert.Contains(error, problem);
        }
    }

    private static WebAccess Access(string[] keys, TimeProvider? time = null) =>
        new(Options.Create(new ServiceOptions { Security = new SecurityOptions { ApiKeys = keys } }), time ?? TimeProvider.System);

    private static DefaultHttpContext WithCookie(string token)
    {
        var context = new DefaultHttpContext();
        context.Request.Headers.Cookie = $"{WebAccess.CookieName}={token}";
        return context;
    }
}
