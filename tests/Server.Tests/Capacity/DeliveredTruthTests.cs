using StreamMtl.Ingest.Frames;
using StreamMtl.Ingest.Synthetic;
using StreamMtl.Pipeline.Model;
using StreamMtl.Pipeline.Results;
using StreamMtl.Pipeline.Runners;
using StreamMtl.Server.Capacity;
using StreamMtl.Server.Service;

namespace StreamMtl.Server.Tests.Capacity;

/// <summary>
/// bench --score-truth's scoring: results encoded by the service's own encoder from the synthetic camera's truth score as
/// exact up to the wire's quantisation, at any output size, and a dropped frame is scored as the stale result left on screen.
/// </summary>
public sealed class DeliveredTruthTests
{
    private static readonly SyntheticSpec Spec = SyntheticSpec.Parse("synthetic://moving?seed=5&w=64&h=48&fps=10");

    [Fact]
    public void Results_made_from_the_truth_score_as_exact_and_dropped_frames_as_the_stale_result_on_screen()
    {
        var camera = new SyntheticCamera(Spec);
        var truths = Enumerable.Range(0, 6).Select(i =>
        {
            using var frame = camera.RenderFrame(i, withTruth: true);
            return frame.Truth!;
        }).ToArray();
        int classes = truths.SelectMany(t => t.Labels).Where(l => l != FrameTruth.Ignore).Max() + 1;
        // Frames 3 and 4 were dropped: frame 2's result stays on screen for them. The second stream asked for twice the size.
        KeptResult[] Results(int width, int height) => [.. new[] { 0, 1, 2, 5 }.Select(i => Encoded(i, truths[i], width, height))];
        var scored = DeliveredTruth.Score(Spec, classes, [Results(64, 48), Results(128, 96), []]);

        Assert.Null(scored[2]);
        // Depth in millimetre units and normals in 8 bits a component; at twice the size, the encoder's linear upsampling too.
        foreach (var (d, depthBound, normalsBound) in new[] { (scored[0]!, 0.0005, 0.5), (scored[1]!, 0.01, 3.0) })
        {
            Assert.Equal(4, d.Results);
            Assert.Equal(6, d.Frames);
            Assert.Equal(1.0, d.Processed.SegmentationMIoU, 9);
            Assert.InRange(d.Processed.DepthAbsRel, 0, depthBound);
            Assert.InRange(d.Processed.NormalsMeanDeg, 0, normalsBound);
            Assert.True(d.Shown.SegmentationMIoU < 0.99, $"two of six frames showed a stale result: {d.Shown}");
            Assert.True(d.Shown.DepthAbsRel > d.Processed.DepthAbsRel, $"{d.Shown} against {d.Processed}");
            Assert.True(d.Shown.NormalsMeanDeg > d.Processed.NormalsMeanDeg, $"{d.Shown} against {d.Processed}");
        }
        Assert.Equal(scored[0]!.Shown.SegmentationMIoU, scored[1]!.Shown.SegmentationMIoU, 9);
    }

    /// <summary>The truth of frame <paramref name="index"/> as the service would send it: its encoder, its message mapping.</summary>
    private static KeptResult Encoded(long index, FrameTruth truth, int width, int height)
    {
        var spec = new OutputSpec(TaskSet.All, PayloadFormat.Png16Depth, PayloadFormat.PngRgb8Normals, OutputSpec.DefaultDepthScale, false, 90,
            width, height);
        var accounting = new FrameAccounting(new Dictionary<VisionTask, long>(), new Dictionary<VisionTask, long>(), [], false, "");
        var analysis = new FrameAnalysis(index, new Predictions(truth.Width, truth.Height, truth.Labels, truth.Depth, truth.Normals), accounting,
            TimeSpan.Zero);
        var message = ApiMapping.ToApi(ResultEncoder.Encode("cam", analysis, null, DateTimeOffset.UnixEpoch, spec, []), 0);
        return new KeptResult(message.FrameIndex, [.. message.Outputs]);
    }
}
