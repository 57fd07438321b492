using CsCheck;
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
    /// junk, extreme numbers), drawn from CsCheck generators on a fixed PCG seed (the same calls on every machine): no
    /// UNKNOWN or INTERNAL status, bounded details, no logged exception.
    /// </summary>
    [Fact]
    public async Task Fuzzed_calls_never_get_unknown_or_internal_and_never_log_an_exception()
    {
        var logs = new CapturedLogs();
        await using var server = await ServerUnderTest.StartInProcessAsync(logs: logs);
        var c = server.Client;
        var pcg = new PCG(21, 21);
        var statuses = new Dictionary<StatusCode, int>();
        for (int i = 0; i < 1200; i++)
        {
            var call = Calls.Generate(pcg, null, out _);
            StatusCode code;
            try
            {
                switch (i % 4)
                {
                    case 0 or 1:
                        var info = await c.AddStreamAsync(new AddStreamRequest
                        {
                            Id = call.Id,
                            SourceUri = call.Uri,
                            MaxFps = call.MaxFps,
                            Size = call.Size is var (w, h) ? new StreamMtl.Api.V1.Size { Width = w, Height = h } : null,
                            Tasks = { (ApiTask)call.Task },
                        }).ResponseAsync;
                        await c.RemoveStreamAsync(new RemoveStreamRequest { Id = info.Id });
                        code = StatusCode.OK;
                        break;
                    case 2:
                        await c.GetStreamAsync(new GetStreamRequest { Id = call.LongId }).ResponseAsync;
                        code = StatusCode.OK;
                        break;
                    default:
                        using (var subscribe = c.Subscribe(new SubscribeRequest
                        {
                            StreamId = call.Id,
                            OutputSize = new StreamMtl.Api.V1.Size { Width = call.Output.Width, Height = call.Output.Height },
                            Tasks = { (ApiTask)call.Task },
                        }))
                        {
                            await subscribe.ResponseStream.MoveNext(CancellationToken.None);
                        }
                        code = StatusCode.OK;
                        break;
                }
            }
            catch (RpcException e)
            {
                code = e.StatusCode;
                Assert.True(e.Status.Detail.Length <= MaxDetail, $"call {i} ({Describe(call)}): {e.Status.Detail.Length}-character detail");
            }
            statuses[code] = statuses.GetValueOrDefault(code) + 1;
            Assert.True(code is not (StatusCode.Unknown or StatusCode.Internal), $"call {i} ({Describe(call)}) got {code}");
        }
        Assert.True(statuses.Values.Sum() == 1200, string.Join(", ", statuses));
        // The generators reach every kind of refusal, not only one: the fuzz exercises validation, policy and admission.
        Assert.True(statuses.Keys.Count(k => k != StatusCode.OK) >= 3, string.Join(", ", statuses));
        Assert.Empty(logs.Entries.Where(l => l.Error != null).Select(l => $"{l.Category}: {l.Message}: {l.Error}"));
    }

    /// <summary>One fuzzed call's fields; which RPC uses them depends on the call's position. Half the ids are valid, so
    /// the URIs, sizes and rates reach the policy and admission checks behind the id's.</summary>
    private sealed record FuzzCall(string Id, string Uri, double MaxFps, (int Width, int Height)? Size, int Task, string LongId,
        (int Width, int Height) Output);

    /// <summary>Mostly plausible ids (1 character in 8 a control, separator, surrogate or path character), a quarter of
    /// them up to <paramref name="maxLength"/> long.</summary>
    private static Gen<string> Text(int maxLength) =>
        Gen.Int[0, 3].SelectMany(k => k == 0 ? Gen.Int[0, maxLength] : Gen.Int[0, 12])
            .SelectMany(length => Gen.Int[0, 7].SelectMany(k => k == 0 ? OddChars : PlainChars).Array[length])
            .Select(chars => new string(chars));

    private static readonly Gen<char> PlainChars = Gen.Char["abcXYZ019_.-"];

    private static readonly Gen<char> OddChars = Gen.Char["\0\n\r\t\u2028\u202e/\\:*?\"<>|%' \u00e9\ud800"];

    private static readonly Gen<string> Uris = Gen.OneOf<string>(
        Gen.Const("synthetic://static?seed=1&w=64&h=48&fps=5"),
        Gen.Select(Gen.Int[-10, 9000], Gen.Int[-10, 9000], Gen.Int[-5, 500], (w, h, fps) => $"synthetic://moving?w={w}&h={h}&fps={fps}"),
        Text(20).Select(seed => "synthetic://static?seed=" + seed),
        Gen.OneOf("file:///etc/passwd", "/proc/self/environ", "http://169.254.169.254/latest/meta-data/", "rtsp://127.0.0.1:1/x",
            "http://0x7f000001/", "rtsp://[::1]/a", "gopher://x", "", "v4l2:///dev/video99"),
        Text(3000),
        Text(30).Select(name => "file:///tmp/" + name));

    private static readonly Gen<FuzzCall> Calls =
        from id in Gen.Int[0, 1].SelectMany(k => k == 0 ? Gen.Int[0, 99_999].Select(n => $"s{n}") : Text(80))
        from uri in Uris
        from maxFps in Gen.OneOf(0d, 1d, 15d, 31d, -1d, 1e308, double.NaN, double.PositiveInfinity)
        from hasSize in Gen.Int[0, 2]
        from width in Gen.Int[-5, 5000]
        from height in Gen.Int[-5, 5000]
        from task in Gen.Int[-2, 5]
        from longId in Text(12000)
        from outWidth in Gen.Int[-1, 100000]
        from outHeight in Gen.Int[-1, 100000]
        select new FuzzCall(id, uri, maxFps, hasSize == 0 ? null : (width, height), task, longId, (outWidth, outHeight));

    /// <summary>A failing call, escaped and cut so the assertion message stays readable.</summary>
    private static string Describe(FuzzCall call)
    {
        static string Cut(string s) => System.Text.Json.JsonSerializer.Serialize(s.Length > 60 ? s[..60] + "..." : s);
        return $"id {Cut(call.Id)}, uri {Cut(call.Uri)}, max fps {call.MaxFps}, size {call.Size}, task {call.Task}, output {call.Output}";
    }
}
