using StreamMtl.Pipeline.Runners;
using Google.Protobuf;
using OpenCvSharp;
using StreamMtl.Api.V1;
using StreamMtl.Ingest.Frames;
using StreamMtl.Ingest.Synthetic;
using StreamMtl.Training.Evaluation;
using StreamMtl.Pipeline.Model;
using StreamMtl.Pipeline.Weights;
using StreamMtl.Server.Tests.Infrastructure;
using ApiTask = StreamMtl.Api.V1.Task;
using Task = System.Threading.Tasks.Task;

namespace StreamMtl.Server.Tests.Service;

/// <summary>What the service returns is what the model computes: preprocessing, inference thread, encoding and transport lose nothing.</summary>
public sealed class WiringTests
{
    private static Predictions Direct(Frame frame)
    {
        var (model, _) = ModelFile.Load(TestModel.Path_);
        using (model)
        {
            model.eval();
            using var runner = new DenseStreamRunner(model);
            using var scope = TorchSharp.torch.NewDisposeScope();
            var input = FrameInput.ToTensor(frame, 160, 128, model.Config);
            return runner.Run(input, 4, TaskSet.Segmentation | TaskSet.Depth).Outputs;
        }
    }

    private static ClientFrame Raw(Frame frame, long index)
    {
        frame.Image.GetArray(out Vec3b[] pixels);
        return new ClientFrame
        {
            Data = ByteString.CopyFrom(System.Runtime.InteropServices.MemoryMarshal.AsBytes(pixels.AsSpan())), Format = FrameFormat.RawBgr, Width = 160, Height = 128, Index = index,
        };
    }

    [Fact]
    public async Task Dense_streams_share_a_batched_forward_pass_with_unchanged_outputs()
    {
        var camera = new SyntheticCamera(SyntheticSpec.Parse("synthetic://moving?seed=9&w=160&h=128"));
        using var frame = camera.RenderFrame(4, false, DateTimeOffset.UtcNow);
        var expected = Direct(frame);
        // The longest batch timeout, so the first frame waits for the second session's, and batches of two, so the pair
        // runs as soon as both are in. On a loaded machine a pair can still arrive further apart: up to three pairs are sent.
        await using var server = await ServerUnderTest.StartInProcessAsync(new Dictionary<string, string?>
        {
            ["StreamMtl:Pipeline:BatchTimeout"] = "00:00:01", ["StreamMtl:Pipeline:BatchSize"] = "2", ["StreamMtl:Pipeline:InferenceWorkers"] = "1",
        });
        var metrics = (StreamMtl.Server.Metrics.ServerMetrics)server.App.Services.GetService(typeof(StreamMtl.Server.Metrics.ServerMetrics))!;
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var calls = Enumerable.Range(0, 2).Select(_ => server.Client.Process(cancellationToken: cts.Token)).ToList();
        foreach (var call in calls)
        {
            await call.RequestStream.WriteAsync(new ProcessRequest { Config = new ProcessConfig
            {
                Tasks = { ApiTask.Segmentation, ApiTask.Depth }, Reuse = new StreamMtl.Api.V1.ReuseSettings { Dense = true },
            } });
        }
        for (var pair = 0; pair < 3 && metrics.BatchSize.Sum == metrics.BatchSize.Count; pair++)
        {
            await Task.WhenAll(calls.Select(c => c.RequestStream.WriteAsync(new ProcessRequest { Frame = Raw(frame, 4 + pair) })));
            foreach (var call in calls)
            {
                var result = Assert.Single(await TestResults.TakeAsync(call.ResponseStream, 1, cts.Token));
                var labels = TestResults.Labels(result.Outputs[0], out _, out _);
                double same = labels.Zip(expected.Labels!).Count(p => p.First == p.Second) / (double)labels.Length;
                Assert.True(same > 0.995, $"only {same:P2} of labels equal the direct run");
                Assert.True(result.Accounting.Flops.All(f => f.Dense > 0));
            }
        }
        await Task.WhenAll(calls.Select(c => c.RequestStream.CompleteAsync()));
        foreach (var call in calls)
        {
            call.Dispose();
        }
        Assert.True(metrics.BatchSize.Sum > metrics.BatchSize.Count, $"no batch of two: {metrics.BatchSize.Sum} frames in {metrics.BatchSize.Count} wake-ups");
    }

    [Fact]
    public async Task Process_labels_and_depth_equal_a_direct_model_run_on_the_same_frame()
    {
        var camera = new SyntheticCamera(SyntheticSpec.Parse("synthetic://moving?seed=9&w=160&h=128"));
        using var frame = camera.RenderFrame(4, false, DateTimeOffset.UtcNow);
        var expected = Direct(frame);

        await using var server = await ServerUnderTest.StartInProcessAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        using var call = server.Client.Process(cancellationToken: cts.Token);
        await call.RequestStream.WriteAsync(new ProcessRequest { Config = new ProcessConfig
        {
            Tasks = { ApiTask.Segmentation, ApiTask.Depth }, Encoding = new StreamMtl.Api.V1.Encoding { Depth = OutputFormat.Float16 },
        } });
        frame.Image.GetArray(out Vec3b[] pixels);
        await call.RequestStream.WriteAsync(new ProcessRequest { Frame = new ClientFrame
        {
            Data = ByteString.CopyFrom(System.Runtime.InteropServices.MemoryMarshal.AsBytes(pixels.AsSpan())), Format = FrameFormat.RawBgr, Width = 160, Height = 128, Index = 4,
        } });
        await call.RequestStream.CompleteAsync();
        var result = Assert.Single(await TestResults.TakeAsync(call.ResponseStream, 1, cts.Token));

        var labels = TestResults.Labels(result.Outputs[0], out _, out _);
        double same = labels.Zip(expected.Labels!).Count(p => p.First == p.Second) / (double)labels.Length;
        Assert.True(same > 0.995, $"only {same:P2} of labels equal the direct run");
        var depth = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, Half>(result.Outputs[1].Data.Span).ToArray();
        Assert.Equal(expected.Depth!.Length, depth.Length);
        double maxError = expected.Depth.Zip(depth).Max(p => Math.Abs(p.First - (float)p.Second) / Math.Max(1e-3, Math.Abs(p.First)));
        Assert.True(maxError < 0.01, $"depth differs by up to {maxError:P2}");
    }
}
