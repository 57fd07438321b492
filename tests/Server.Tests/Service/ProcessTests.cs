using Google.Protobuf;
using Grpc.Core;
using OpenCvSharp;
using StreamMtl.Api.V1;
using StreamMtl.Ingest.Synthetic;
using StreamMtl.Server.Tests.Infrastructure;
using ApiTask = StreamMtl.Api.V1.Task;
using Task = System.Threading.Tasks.Task;

namespace StreamMtl.Server.Tests.Service;

/// <summary>The Process bidi stream: client frames in, results out in order; bad frames end only their own call.</summary>
public sealed class ProcessTests
{
    private static readonly SyntheticCamera Camera = new(SyntheticSpec.Parse("synthetic://moving?seed=5&w=160&h=128&fps=15"));

    private static ClientFrame Encode(long index, FrameFormat format)
    {
        using var frame = Camera.RenderFrame(index, false, DateTimeOffset.UtcNow);
        byte[] data = format switch
        {
            FrameFormat.Jpeg => frame.Image.ImEncode(".jpg"),
            FrameFormat.Png => frame.Image.ImEncode(".png"),
            _ => RawBytes(frame.Image),
        };
        return new ClientFrame { Data = ByteString.CopyFrom(data), Format = format, Width = frame.Width, Height = frame.Height, Index = index + 100 };
    }

    private static byte[] RawBytes(Mat image)
    {
        image.GetArray(out Vec3b[] pixels);
        return System.Runtime.InteropServices.MemoryMarshal.AsBytes(pixels.AsSpan()).ToArray();
    }

    [Fact]
    public async Task Frames_in_every_format_come_back_in_order()
    {
        await using var server = await ServerUnderTest.StartInProcessAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        using var call = server.Client.Process(cancellationToken: cts.Token);
        await call.RequestStream.WriteAsync(new ProcessRequest { Config = new ProcessConfig { StreamId = "headset", Tasks = { ApiTask.Segmentation, ApiTask.Normals } } });
        var formats = new[] { FrameFormat.Jpeg, FrameFormat.Png, FrameFormat.RawBgr };
        var reader = Task.Run(() => TestResults.TakeAsync(call.ResponseStream, 9, cts.Token));
        for (int i = 0; i < 9; i++)
        {
            await call.RequestStream.WriteAsync(new ProcessRequest { Frame = Encode(i, formats[i % 3]) }, cts.Token);
        }
        await call.RequestStream.CompleteAsync();
        var results = await reader;
        Assert.Equal(Enumerable.Range(100, 9).Select(i => (long)i), results.Select(r => r.FrameIndex));
        Assert.All(results, r => Assert.Equal([ApiTask.Segmentation, ApiTask.Normals], r.Outputs.Select(o => o.Task)));
        Assert.All(results, r => Assert.Equal("headset", r.StreamId));
        Assert.False(await call.ResponseStream.MoveNext(cts.Token));
        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
    }

    [Fact]
    public async Task A_bfloat16_server_says_so_and_answers_near_the_float32_one()
    {
        await using var float32 = await ServerUnderTest.StartInProcessAsync();
        await using var bfloat16 = await ServerUnderTest.StartInProcessAsync(new Dictionary<string, string?> { ["StreamMtl:Model:Precision"] = "BFloat16" });
        Assert.Equal("float32", (await float32.Client.GetModelInfoAsync(new GetModelInfoRequest())).Precision);
        Assert.Equal("bfloat16", (await bfloat16.Client.GetModelInfoAsync(new GetModelInfoRequest())).Precision);
        var metrics = (StreamMtl.Server.Metrics.ServerMetrics)bfloat16.App.Services.GetService(typeof(StreamMtl.Server.Metrics.ServerMetrics))!;
        Assert.Contains(metrics.ModelInfo.GetAllLabelValues(), labels => labels[^1] == "bfloat16");

        var frame = Encode(3, FrameFormat.Png);
        float[] reference = await DepthAsync(float32, frame);
        float[] reduced = await DepthAsync(bfloat16, frame);
        Assert.Equal(reference.Length, reduced.Length);
        double relative = reference.Zip(reduced, (a, b) => Math.Abs(a - b) / Math.Max(Math.Abs(a), 1e-3f)).Average();
        Assert.True(relative > 0, "bfloat16 depth is bit-identical to float32: the products did not run in bfloat16");
        Assert.True(relative < 0.05, $"bfloat16 depth is {relative:P2} away from float32");
    }

    /// <summary>One frame through Process, depth only, as float16 values.</summary>
    private static async Task<float[]> DepthAsync(ServerUnderTest server, ClientFrame frame)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        using var call = server.Client.Process(cancellationToken: cts.Token);
        await call.RequestStream.WriteAsync(new ProcessRequest { Config = new ProcessConfig
        {
            Tasks = { ApiTask.Depth }, Encoding = new StreamMtl.Api.V1.Encoding { Depth = OutputFormat.Float16 },
        } }, cts.Token);
        await call.RequestStream.WriteAsync(new ProcessRequest { Frame = frame }, cts.Token);
        await call.RequestStream.CompleteAsync();
        var result = Assert.Single(await TestResults.TakeAsync(call.ResponseStream, 1, cts.Token));
        var output = Assert.Single(result.Outputs);
        return [.. System.Runtime.InteropServices.MemoryMarshal.Cast<byte, Half>(output.Data.Span).ToArray().Select(h => (float)h)];
    }

    public static TheoryData<string, ClientFrame> BadFrames()
    {
        var random = new Random(11);
        byte[] noise = new byte[50_000];
        random.NextBytes(noise);
        var data = new TheoryData<string, ClientFrame>
        {
            { "random bytes as JPEG", new ClientFrame { Data = ByteString.CopyFrom(noise), Format = FrameFormat.Jpeg } },
            { "random bytes as PNG", new ClientFrame { Data = ByteString.CopyFrom(noise), Format = FrameFormat.Png } },
            { "raw with wrong size", new ClientFrame { Data = ByteString.CopyFrom(noise), Format = FrameFormat.RawBgr, Width = 160, Height = 128 } },
            { "raw without size", new ClientFrame { Data = ByteString.CopyFrom(noise), Format = FrameFormat.RawBgr } },
            { "empty", new ClientFrame { Format = FrameFormat.Jpeg } },
            { "no format", new ClientFrame { Data = ByteString.CopyFrom(noise) } },
            { "raw too large", new ClientFrame { Data = ByteString.CopyFrom(new byte[8000 * 20 * 3]), Format = FrameFormat.RawBgr, Width = 8000, Height = 20 } },
            { "size mismatch", WithSize(Encode(0, FrameFormat.Png), 320, 240) },
            { "PNG header claiming 60000x60000", new ClientFrame { Data = ByteString.CopyFrom(PngBomb()), Format = FrameFormat.Png } },
            { "truncated JPEG", Truncated(Encode(1, FrameFormat.Jpeg)) },
        };
        return data;
    }

    private static ClientFrame WithSize(ClientFrame frame, int w, int h)
    {
        frame.Width = w;
        frame.Height = h;
        return frame;
    }

    private static ClientFrame Truncated(ClientFrame frame)
    {
        frame.Data = ByteString.CopyFrom(frame.Data.Span[..200]);
        return frame;
    }

    private static byte[] PngBomb()
    {
        byte[] png = Camera.RenderFrame(0, false, DateTimeOffset.UtcNow).Image.ImEncode(".png");
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(png.AsSpan(16), 60000);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(png.AsSpan(20), 60000);
        return png;
    }

    [Fact]
    public async Task Bad_frames_are_invalid_arguments_and_other_streams_keep_running()
    {
        await using var server = await ServerUnderTest.StartInProcessAsync();
        await server.AddSyntheticAsync("cam");
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        using var watcher = await server.SubscribeSegmentationAsync("cam", cts.Token);
        foreach (var row in BadFrames())
        {
            string name = (string)row[0];
            var frame = (ClientFrame)row[1];
            using var call = server.Client.Process(cancellationToken: cts.Token);
            await call.RequestStream.WriteAsync(new ProcessRequest { Config = new ProcessConfig() });
            try
            {
                await call.RequestStream.WriteAsync(new ProcessRequest { Frame = frame });
            }
            catch (RpcException)
            {
            }
            var e = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext(cts.Token));
            Assert.True(e.StatusCode == StatusCode.InvalidArgument, $"{name}: {e.StatusCode} {e.Status.Detail}");
        }
        // Frames before the config, and two configs, are protocol errors too.
        using (var call = server.Client.Process(cancellationToken: cts.Token))
        {
            await call.RequestStream.WriteAsync(new ProcessRequest { Frame = Encode(0, FrameFormat.Png) });
            await RpcAssert.Fails(StatusCode.InvalidArgument, () => call.ResponseStream.MoveNext(cts.Token));
        }
        // The camera stream was never disturbed.
        var after = await TestResults.TakeAsync(watcher.ResponseStream, 3, cts.Token);
        Assert.Equal(3, after.Count);
        var info = await server.Client.GetStreamAsync(new GetStreamRequest { Id = "cam" });
        Assert.Equal(StreamState.Running, info.State);
    }

    [Fact]
    public async Task A_message_over_the_receive_limit_is_resource_exhausted()
    {
        await using var server = await ServerUnderTest.StartInProcessAsync(new Dictionary<string, string?> { ["StreamMtl:Limits:MaxReceiveMessageBytes"] = "1000000" });
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        using var call = server.Client.Process(cancellationToken: cts.Token);
        await call.RequestStream.WriteAsync(new ProcessRequest { Config = new ProcessConfig() });
        try
        {
            await call.RequestStream.WriteAsync(new ProcessRequest { Frame = new ClientFrame
            {
                Data = ByteString.CopyFrom(new byte[1200 * 1000 * 3]), Format = FrameFormat.RawBgr, Width = 1200, Height = 1000,
            } });
        }
        catch (RpcException)
        {
        }
        await RpcAssert.Fails(StatusCode.ResourceExhausted, () => call.ResponseStream.MoveNext(cts.Token));
        Assert.NotEmpty((await server.Client.GetModelInfoAsync(new GetModelInfoRequest())).Version);
    }

    [Fact]
    public async Task Random_message_fuzz_never_crashes_the_server()
    {
        await using var server = await ServerUnderTest.StartInProcessAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        var random = new Random(5);
        for (int round = 0; round < 20; round++)
        {
            using var call = server.Client.Process(cancellationToken: cts.Token);
            try
            {
                await call.RequestStream.WriteAsync(new ProcessRequest { Config = new ProcessConfig { Tasks = { (ApiTask)random.Next(0, 4) } } });
                for (int i = 0; i < 3; i++)
                {
                    byte[] bytes = new byte[random.Next(0, 20_000)];
                    random.NextBytes(bytes);
                    await call.RequestStream.WriteAsync(new ProcessRequest
                    {
                        Frame = new ClientFrame
                        {
                            Data = ByteString.CopyFrom(bytes), Format = (FrameFormat)random.Next(0, 5),
                            Width = random.Next(-5, 5000), Height = random.Next(-5, 5000),
                        },
                    });
                }
                await call.RequestStream.CompleteAsync();
            }
            catch (RpcException)
            {
            }
            var e = await Assert.ThrowsAsync<RpcException>(async () =>
            {
                while (await call.ResponseStream.MoveNext(cts.Token))
                {
                }
                throw new RpcException(call.GetStatus());
            });
            Assert.True(e.StatusCode == StatusCode.InvalidArgument, $"round {round}: {e.StatusCode} {e.Status.Detail}");
        }
        // Still serving.
        var info = await server.Client.GetModelInfoAsync(new GetModelInfoRequest());
        Assert.NotEmpty(info.Version);
    }
}
