using Grpc.Core;
using StreamMtl.Api.V1;
using StreamMtl.Server.Tests.Infrastructure;
using ApiTask = StreamMtl.Api.V1.Task;
using Task = System.Threading.Tasks.Task;

namespace StreamMtl.Server.Tests.Security;

/// <summary>
/// Input an attacker would send (issue 21): each gets a specific status, errors echo only a bounded and escaped prefix,
/// and nothing reaches the log as an unhandled exception.
/// </summary>
public sealed class HostileInputTests
{
    /// <summary>Longest status detail any refusal may carry (the echo is 64 characters plus the rule).</summary>
    private const int MaxDetail = 600;

    [Theory]
    [InlineData("x", "/etc/passwd\0.mp4", "control characters")]
    [InlineData("x", "synthetic://static?seed=1\nINJECTED", "control characters")]
    [InlineData("x", "synthetic://static?seed=1\u2028x", "control characters")]
    [InlineData(".", "synthetic://static", "stream id")]
    [InlineData("..", "synthetic://static", "stream id")]
    [InlineData("CON", "synthetic://static", "reserved device name")]
    [InlineData("nul.txt", "synthetic://static", "reserved device name")]
    [InlineData("-x", "synthetic://static", "starting with a letter or digit")]
    public async Task Control_characters_dot_ids_and_device_names_are_invalid_arguments(string id, string uri, string expected)
    {
        var logs = new CapturedLogs();
        await using var server = await ServerUnderTest.StartInProcessAsync(logs: logs);
        var e = await RpcAssert.Fails(StatusCode.InvalidArgument,
            () => server.Client.AddStreamAsync(new AddStreamRequest { Id = id, SourceUri = uri }).ResponseAsync);
        Assert.Contains(expected, e.Status.Detail, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain('\0', e.Status.Detail);
        Assert.DoesNotContain('\n', e.Status.Detail);
        Assert.DoesNotContain(logs.Entries, l => l.Error != null);
    }

    [Fact]
    public async Task Huge_ids_and_uris_get_a_bounded_echo_not_a_metadata_overflow()
    {
        await using var server = await ServerUnderTest.StartInProcessAsync();
        var c = server.Client;
        string longId = new('a', 9000);
        var e = await RpcAssert.Fails(StatusCode.InvalidArgument,
            () => c.AddStreamAsync(new AddStreamRequest { Id = longId, SourceUri = "synthetic://static" }).ResponseAsync);
        Assert.InRange(e.Status.Detail.Length, 1, MaxDetail);
        Assert.Contains("(9000 characters)", e.Status.Detail);
        e = await RpcAssert.Fails(StatusCode.InvalidArgument,
            () => c.AddStreamAsync(new AddStreamRequest { Id = "x", SourceUri = "synthetic://static?" + new string('q', 9000) }).ResponseAsync);
        Assert.InRange(e.Status.Detail.Length, 1, MaxDetail);
        e = await RpcAssert.Fails(StatusCode.NotFound, () => c.GetStreamAsync(new GetStreamRequest { Id = longId }).ResponseAsync);
        Assert.InRange(e.Status.Detail.Length, 1, MaxDetail);
    }

    [Theory]
    [InlineData("synthetic://moving?seed=1&w=4096&h=4096&fps=30&objects=24", "Limits:MaxSourceWidth")]
    [InlineData("synthetic://static?seed=1&w=320&h=240&fps=240", "Limits:MaxSourceFps")]
    public async Task A_synthetic_camera_over_the_source_limits_is_refused_with_resource_exhausted(string uri, string expected)
    {
        await using var server = await ServerUnderTest.StartInProcessAsync();
        var e = await RpcAssert.Fails(StatusCode.ResourceExhausted,
            () => server.Client.AddStreamAsync(new AddStreamRequest { Id = "big", SourceUri = uri }).ResponseAsync);
        Assert.Contains(expected, e.Status.Detail);
    }

    [Theory]
    [InlineData(1e308, 0, 0, "max_fps")]
    [InlineData(double.NaN, 0, 0, "max_fps")]
    [InlineData(0, 4096, 4096, "size")]
    [InlineData(0, 8, 8, "size")]
    public async Task Out_of_range_rates_and_sizes_are_invalid_arguments(double maxFps, int width, int height, string expected)
    {
        await using var server = await ServerUnderTest.StartInProcessAsync();
        var request = new AddStreamRequest { Id = "x", SourceUri = "synthetic://static", MaxFps = maxFps };
        if (width != 0)
        {
            request.Size = new StreamMtl.Api.V1.Size { Width = width, Height = height };
        }
        var e = await RpcAssert.Fails(StatusCode.InvalidArgument, () => server.Client.AddStreamAsync(request).ResponseAsync);
        Assert.StartsWith(expected, e.Status.Detail);
    }

    /// <summary>
    /// 1,200 calls shaped like an attacker's (random ids with control characters and odd lengths, URIs of every scheme with
    /// junk, extreme numbers), from a seeded generator: no UNKNOWN or INTERNAL status, bounded details, no logged exception.
    /// </summary>
    [Fact]
    public async Task Fuzzed_calls_never_get_unknown_or_internal_and_never_log_an_exception()
    {
        var logs = new CapturedLogs();
        await using var server = await ServerUnderTest.StartInProcessAsync(logs: logs);
        var c = server.Client;
        var random = new Random(21);
        var statuses = new Dictionary<StatusCode, int>();
        for (int i = 0; i < 1200; i++)
        {
            StatusCode code;
            try
            {
                switch (i % 4)
                {
                    case 0 or 1:
                        var info = await c.AddStreamAsync(new AddStreamRequest
                        {
                            Id = Text(random, 80),
                            SourceUri = Uri(random),
                            MaxFps = Pick(random, [0, 1, 15, 31, -1, 1e308, double.NaN, double.PositiveInfinity]),
                            Size = random.Next(3) == 0 ? null : new StreamMtl.Api.V1.Size { Width = random.Next(-5, 5000), Height = random.Next(-5, 5000) },
                            Tasks = { (ApiTask)random.Next(-2, 6) },
                        }).ResponseAsync;
                        await c.RemoveStreamAsync(new RemoveStreamRequest { Id = info.Id });
                        code = StatusCode.OK;
                        break;
                    case 2:
                        await c.GetStreamAsync(new GetStreamRequest { Id = Text(random, 12000) }).ResponseAsync;
                        code = StatusCode.OK;
                        break;
                    default:
                        using (var call = c.Subscribe(new SubscribeRequest
                        {
                            StreamId = Text(random, 100),
                            OutputSize = new StreamMtl.Api.V1.Size { Width = random.Next(-1, 100000), Height = random.Next(-1, 100000) },
                            Tasks = { (ApiTask)random.Next(-2, 6) },
                        }))
                        {
                            await call.ResponseStream.MoveNext(CancellationToken.None);
                        }
                        code = StatusCode.OK;
                        break;
                }
            }
            catch (RpcException e)
            {
                code = e.StatusCode;
                Assert.True(e.Status.Detail.Length <= MaxDetail, $"call {i}: {e.Status.Detail.Length}-character detail");
            }
            statuses[code] = statuses.GetValueOrDefault(code) + 1;
            Assert.True(code is not (StatusCode.Unknown or StatusCode.Internal), $"call {i} got {code}");
        }
        Assert.True(statuses.Values.Sum() == 1200, string.Join(", ", statuses));
        Assert.Empty(logs.Entries.Where(l => l.Error != null).Select(l => $"{l.Category}: {l.Message}: {l.Error}"));
    }

    private static T Pick<T>(Random random, T[] choices) => choices[random.Next(choices.Length)];

    /// <summary>Mostly plausible ids, some with control, separator, surrogate and path characters, some very long.</summary>
    private static string Text(Random random, int maxLength)
    {
        int length = random.Next(4) == 0 ? random.Next(0, maxLength) : random.Next(0, 12);
        var chars = new char[length];
        const string plain = "abcXYZ019_.-";
        string odd = "\0\n\r\t\u2028\u202e/\\:*?\"<>|%' \u00e9\ud800";
        for (int i = 0; i < length; i++)
        {
            chars[i] = random.Next(8) == 0 ? odd[random.Next(odd.Length)] : plain[random.Next(plain.Length)];
        }
        return new string(chars);
    }

    private static string Uri(Random random) => Pick(random, [
        "synthetic://static?seed=1&w=64&h=48&fps=5",
        "synthetic://moving?w=" + random.Next(-10, 9000) + "&h=" + random.Next(-10, 9000) + "&fps=" + random.Next(-5, 500),
        "synthetic://static?seed=" + Text(random, 20),
        "file:///etc/passwd", "/proc/self/environ", "http://169.254.169.254/latest/meta-data/", "rtsp://127.0.0.1:1/x",
        "http://0x7f000001/", "rtsp://[::1]/a", "gopher://x", "", Text(random, 3000), "v4l2:///dev/video99", "file:///tmp/" + Text(random, 30),
    ]);
}
