using StreamMtl.Api.V1;
using StreamMtl.Pipeline.Model;
using StreamMtl.Pipeline.Results;
using StreamMtl.Pipeline.Runners;
using StreamMtl.Server.Service;
using StreamMtl.Server.Tests.Infrastructure;
using ApiTask = StreamMtl.Api.V1.Task;
using Task = System.Threading.Tasks.Task;

namespace StreamMtl.Server.Tests.Service;

/// <summary>
/// <c>Encoding.skip_unchanged</c>: a held task's output goes to a subscriber once, later results mark it unchanged without
/// data; a subscriber that missed the frame it was computed on gets the data again; without the option nothing changes.
/// </summary>
public sealed class UnchangedOutputsTests
{
    /// <summary>A real stream at the minimal level (sub-tasks computed every 8th frame) over a real gRPC socket.</summary>
    [Fact]
    public async Task A_subscriber_that_skips_unchanged_outputs_receives_each_held_output_once()
    {
        await using var server = await ServerUnderTest.StartInProcessAsync();
        await server.Client.AddStreamAsync(new AddStreamRequest
        {
            Id = "held", SourceUri = "synthetic://static?seed=3&w=160&h=128&fps=30",
            Reuse = new StreamMtl.Api.V1.ReuseSettings { Level = StreamMtl.Api.V1.ComputeLevel.Minimal },
        });
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        using var skipping = server.Client.Subscribe(new SubscribeRequest { StreamId = "held", Encoding = new Encoding { SkipUnchanged = true } },
            cancellationToken: cts.Token);
        using var plain = server.Client.Subscribe(new SubscribeRequest { StreamId = "held" }, cancellationToken: cts.Token);
        var results = await TestResults.TakeAsync(skipping.ResponseStream, 12, cts.Token);
        var whole = await TestResults.TakeAsync(plain.ResponseStream, 12, cts.Token);

        Assert.All(results[0].Outputs, o => Assert.False(o.Unchanged));
        var received = new Dictionary<ApiTask, long>();
        int unchanged = 0;
        foreach (var result in results)
        {
            Assert.Equal([ApiTask.Segmentation, ApiTask.Depth, ApiTask.Normals], result.Outputs.Select(o => o.Task));
            foreach (var output in result.Outputs)
            {
                bool held = result.Accounting.HeldTasks.Contains(output.Task);
                Assert.Equal(held, output.ComputedOnFrame < result.FrameIndex);
                if (output.Unchanged)
                {
                    unchanged++;
                    Assert.True(held, $"frame {result.FrameIndex}: a computed {output.Task} output was marked unchanged");
                    Assert.True(output.Data.IsEmpty);
                    Assert.Equal(received[output.Task], output.ComputedOnFrame);
                }
                else
                {
                    Assert.False(output.Data.IsEmpty);
                    Assert.True(!received.TryGetValue(output.Task, out long last) || last != output.ComputedOnFrame || result.DroppedForSubscriber > 0,
                        $"frame {result.FrameIndex}: {output.Task} computed on frame {output.ComputedOnFrame} was sent again");
                }
                received[output.Task] = output.ComputedOnFrame;
            }
        }
        Assert.True(unchanged >= 6, $"only {unchanged} unchanged outputs in 12 results at the minimal level");
        Assert.All(whole.SelectMany(r => r.Outputs), o => Assert.False(o.Unchanged || o.Data.IsEmpty));
        Assert.True(results.Sum(r => r.CalculateSize()) < whole.Sum(r => r.CalculateSize()) / 2);
    }

    [Fact]
    public void A_subscriber_that_missed_the_frame_an_output_was_computed_on_gets_its_data()
    {
        var depth = new EncodedOutput(VisionTask.Depth, PayloadFormat.Png16Depth, 4, 4, 0.001f, [1, 2, 3]);
        EncodedResult Result(long frame, EncodedOutput output, bool held) => new("s", frame, DateTimeOffset.UnixEpoch,
            new FrameAccounting(new Dictionary<VisionTask, long>(), new Dictionary<VisionTask, long>(), [], false, null)
            {
                HeldTasks = held ? TaskSet.Depth : TaskSet.None,
                HeldFrom = held ? new Dictionary<VisionTask, long> { [VisionTask.Depth] = 5 } : null,
            }, [], [output], null);

        var seen = new UnchangedOutputs();
        Assert.False(seen.ToApi(Result(5, depth, held: false), 0).Outputs[0].Unchanged);
        var repeat = seen.ToApi(Result(6, depth, held: true), 0).Outputs[0];
        Assert.True(repeat.Unchanged);
        Assert.True(repeat.Data.IsEmpty);
        Assert.Equal(5, repeat.ComputedOnFrame);

        // This subscriber's result for frame 5 was dropped: frame 6 holds frame 5's output, which it never received.
        var missed = new UnchangedOutputs();
        var first = missed.ToApi(Result(6, depth, held: true), 1).Outputs[0];
        Assert.False(first.Unchanged);
        Assert.Equal(3, first.Data.Length);
        Assert.True(missed.ToApi(Result(7, depth, held: true), 0).Outputs[0].Unchanged);
        // A newly computed output (another object, even with the same bytes) is sent.
        Assert.False(missed.ToApi(Result(8, depth with { }, held: false), 0).Outputs[0].Unchanged);
    }
}
