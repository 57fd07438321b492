using OpenCvSharp;
using StreamMtl.Pipeline.Model;
using StreamMtl.Pipeline.Results;
using StreamMtl.Pipeline.Runners;

namespace StreamMtl.Pipeline.Tests.Streams;

/// <summary>The encode stage: each task in the format its spec asks for, at the spec's size, decodable, values kept.</summary>
public sealed class ResultEncoderTests
{
    private const int W = 8;
    private const int H = 6;

    [Fact]
    public void Pngs_decode_to_the_labels_depth_units_and_normals_at_the_requested_size()
    {
        var spec = new OutputSpec(TaskSet.All, PayloadFormat.Png16Depth, PayloadFormat.PngRgb8Normals, 0.001f, true, 90, W * 2, H * 2);
        using var input = new Mat(H, W, MatType.CV_8UC3, Scalar.All(100));
        var result = ResultEncoder.Encode("cam", Analysis(), input, DateTimeOffset.UnixEpoch, spec, [new StageTime("queue", TimeSpan.FromMilliseconds(3))]);

        Assert.Equal(["segmentation", "depth", "normals"], result.Outputs.Select(o => o.Task.Name()));
        Assert.All(result.Outputs, o => Assert.Equal((W * 2, H * 2), (o.Width, o.Height)));
        using var labels = Cv2.ImDecode(result.Outputs[0].Data, ImreadModes.Unchanged);
        Assert.Equal(3, labels.At<byte>(0, 0));
        Assert.Equal(5, labels.At<byte>(H * 2 - 1, W * 2 - 1));
        using var depth = Cv2.ImDecode(result.Outputs[1].Data, ImreadModes.Unchanged);
        Assert.Equal(MatType.CV_16UC1, depth.Type());
        Assert.Equal(2500, depth.At<ushort>(0, 0));
        Assert.Equal(0.001f, result.Outputs[1].Scale);
        using var normals = Cv2.ImDecode(result.Outputs[2].Data, ImreadModes.Color);
        var bgr = normals.At<Vec3b>(0, 0);
        Assert.Equal((128, 128, 255), (bgr.Item2, bgr.Item1, bgr.Item0)); // R,G,B = x,y,z = (0, 0, 1): 127.5 rounds up
        Assert.NotNull(result.InputJpeg);
        Assert.Equal(["queue"], result.Timings.Select(t => t.Stage));
    }

    [Fact]
    public void Float16_payloads_have_exact_sizes_and_only_asked_tasks_are_encoded()
    {
        var spec = new OutputSpec(TaskSet.Depth | TaskSet.Normals, PayloadFormat.Float16, PayloadFormat.Float16, 0.001f, false, 80, W, H);
        var result = ResultEncoder.Encode("cam", Analysis(), null, DateTimeOffset.UnixEpoch, spec, []);
        Assert.Equal([VisionTask.Depth, VisionTask.Normals], result.Outputs.Select(o => o.Task));
        Assert.Equal(W * H * 2, result.Outputs[0].Data.Length);
        Assert.Equal(W * H * 6, result.Outputs[1].Data.Length);
        Assert.Equal(2.5f, (float)BitConverter.ToHalf(result.Outputs[0].Data, 0));
        Assert.Null(result.InputJpeg);
        Assert.Equal(spec.RawBytes(), result.PayloadBytes);
    }

    [Fact]
    public void A_held_output_reuses_the_encoding_of_the_frame_it_was_computed_on_and_nothing_older()
    {
        var spec = new OutputSpec(TaskSet.All, PayloadFormat.Png16Depth, PayloadFormat.PngRgb8Normals, 0.001f, false, 90, W, H);
        var first = ResultEncoder.Encode("cam", Analysis(), null, DateTimeOffset.UnixEpoch, spec, []);
        var depth = first.Outputs.Single(o => o.Task == VisionTask.Depth);
        var held = Analysis() with
        {
            FrameIndex = 10,
            Accounting = Analysis().Accounting with { HeldTasks = TaskSet.Depth, HeldFrom = new Dictionary<VisionTask, long> { [VisionTask.Depth] = 9 } },
        };
        var cache = first.Outputs.ToDictionary(o => o.Task, o => (ComputedOn: 9L, Output: o));
        var reused = ResultEncoder.Encode("cam", held, null, DateTimeOffset.UnixEpoch, spec, [], cache);
        Assert.Same(depth, reused.Outputs.Single(o => o.Task == VisionTask.Depth));
        Assert.NotSame(first.Outputs[0], reused.Outputs[0]); // computed this frame: encoded again
        // The cached encoding is of an older computation (a frame dropped before encoding): encode the held map instead.
        var stale = first.Outputs.ToDictionary(o => o.Task, o => (ComputedOn: 8L, Output: o));
        var again = ResultEncoder.Encode("cam", held, null, DateTimeOffset.UnixEpoch, spec, [], stale);
        Assert.NotSame(depth, again.Outputs.Single(o => o.Task == VisionTask.Depth));
        Assert.Equal(depth.Data, again.Outputs.Single(o => o.Task == VisionTask.Depth).Data);
    }

    [Fact]
    public void Each_task_png_uses_its_row_filter_on_every_row()
    {
        // The filter setting is a raw OpenCV flag (19): this fails if the bundled OpenCV ignores it or numbers it differently.
        var spec = new OutputSpec(TaskSet.All, PayloadFormat.Png16Depth, PayloadFormat.PngRgb8Normals, 0.001f, false, 90, W * 2, H * 2);
        var result = ResultEncoder.Encode("cam", Analysis(), null, DateTimeOffset.UnixEpoch, spec, []);
        // PNG filter types: 1 Sub, 2 Up, 4 Paeth.
        Assert.Equal([2, 1, 4], result.Outputs.Select(o => RowFilters(o.Data, o.Height, o.Width * o.Format switch
        {
            PayloadFormat.PngLabels => 1,
            PayloadFormat.Png16Depth => 2,
            _ => 3,
        }).Distinct().Single()));
    }

    [Fact]
    public void Stored_pngs_hold_the_same_maps_unfiltered_at_their_raw_size()
    {
        var spec = new OutputSpec(TaskSet.All, PayloadFormat.Png16Depth, PayloadFormat.PngRgb8Normals, 0.001f, false, 90, W * 2, H * 2);
        var compressed = ResultEncoder.Encode("cam", Analysis(), null, DateTimeOffset.UnixEpoch, spec, []);
        var stored = ResultEncoder.Encode("cam", Analysis(), null, DateTimeOffset.UnixEpoch, spec with { StoredPngs = true }, []);
        Assert.Equal(0, spec.RawBytes());
        Assert.Equal(W * 2 * H * 2 * (1 + 2 + 3), (spec with { StoredPngs = true }).RawBytes());
        foreach (var (c, s) in compressed.Outputs.Zip(stored.Outputs))
        {
            using var a = Cv2.ImDecode(c.Data, ImreadModes.Unchanged);
            using var b = Cv2.ImDecode(s.Data, ImreadModes.Unchanged);
            Assert.Equal(0, Cv2.Norm(a, b, NormTypes.INF));
            int rowBytes = s.Width * (int)b.ElemSize();
            Assert.All(RowFilters(s.Data, s.Height, rowBytes), f => Assert.Equal(0, f)); // None
            Assert.True(s.Data.Length >= s.Height * (1 + rowBytes), $"{s.Task}: {s.Data.Length} bytes");
        }
    }

    /// <summary>The filter-type byte of every row of a non-interlaced PNG: its IDAT chunks inflated.</summary>
    private static byte[] RowFilters(byte[] png, int height, int rowBytes)
    {
        var idat = new MemoryStream();
        for (int at = 8; at < png.Length;)
        {
            int length = System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(at));
            if (System.Text.Encoding.ASCII.GetString(png, at + 4, 4) == "IDAT")
            {
                idat.Write(png, at + 8, length);
            }
            at += 12 + length;
        }
        idat.Position = 0;
        using var inflate = new System.IO.Compression.ZLibStream(idat, System.IO.Compression.CompressionMode.Decompress);
        var raw = new MemoryStream();
        inflate.CopyTo(raw);
        Assert.Equal(height * (1 + rowBytes), raw.Length);
        return Enumerable.Range(0, height).Select(y => raw.GetBuffer()[y * (1 + rowBytes)]).ToArray();
    }

    private static FrameAnalysis Analysis()
    {
        var labels = Enumerable.Range(0, W * H).Select(i => (byte)(i < W * H / 2 ? 3 : 5)).ToArray();
        var depth = Enumerable.Repeat(2.5f, W * H).ToArray();
        var normals = Enumerable.Range(0, W * H * 3).Select(i => i % 3 == 2 ? 1f : 0f).ToArray();
        var accounting = new FrameAccounting(new Dictionary<VisionTask, long>(), new Dictionary<VisionTask, long>(), [], true, "start");
        return new FrameAnalysis(9, new Predictions(W, H, labels, depth, normals), accounting, TimeSpan.FromMilliseconds(5));
    }
}
