using static TorchSharp.torch;

namespace StreamMtl.Pipeline.Model;

/// <summary>One frame's predictions in plain arrays (row-major, normals interleaved x,y,z), for metrics and encoding.</summary>
public sealed record Predictions(int Width, int Height, byte[]? Labels, float[]? Depth, float[]? Normals)
{
    /// <summary>
    /// Copies batch item <paramref name="item"/> of a forward result to arrays; with <paramref name="size"/>, at that size
    /// instead of the input's: the raw outputs (logits, log-depth, unnormalised normals) resized bilinearly before they are
    /// finished, as a pass on a downscaled frame is shown at the frame's size.
    /// </summary>
    public static Predictions From(ForwardResult result, int item = 0, (int Width, int Height)? size = null)
    {
        using var scope = NewDisposeScope();
        byte[]? labels = null;
        float[]? depth = null;
        float[]? normals = null;
        int width = 0;
        int height = 0;
        foreach (var task in result.Tasks)
        {
            var raw = result.Raw(task)[item].unsqueeze(0);
            if (size is var (w, h) && (raw.shape[2] != h || raw.shape[3] != w))
            {
                raw = nn.functional.interpolate(raw, [h, w], mode: InterpolationMode.Bilinear, align_corners: false);
            }
            var final = TokenHead.Finish(task, raw)[0];
            height = (int)final.shape[1];
            width = (int)final.shape[2];
            switch (task)
            {
                case VisionTask.Segmentation:
                    labels = final.argmax(0).to(ScalarType.Byte).data<byte>().ToArray();
                    break;
                case VisionTask.Depth:
                    depth = final[0].contiguous().data<float>().ToArray();
                    break;
                case VisionTask.Normals:
                    normals = final.permute(1, 2, 0).contiguous().data<float>().ToArray();
                    break;
            }
        }
        return new Predictions(width, height, labels, depth, normals);
    }
}
