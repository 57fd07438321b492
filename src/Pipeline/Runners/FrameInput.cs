using OpenCvSharp;
using StreamMtl.Ingest.Frames;
using StreamMtl.Pipeline.Model;
using static TorchSharp.torch;

namespace StreamMtl.Pipeline.Runners;

/// <summary>Resizes a frame to the model input size (area interpolation) and normalises it to [1, 3, H, W].</summary>
public static class FrameInput
{
    public static unsafe Tensor ToTensor(Frame frame, int width, int height, ModelConfig config)
    {
        if (width % config.Patch != 0 || height % config.Patch != 0)
        {
            throw new ArgumentException($"input size {width}x{height} must be a multiple of the patch size {config.Patch}");
        }
        if (frame.Width == width && frame.Height == height && frame.Image.IsContinuous())
        {
            return ImageTensors.FromBgr(new ReadOnlySpan<byte>((void*)frame.Image.Data, width * height * 3), width, height, config);
        }
        using var resized = new Mat();
        Downscale.Area(frame.Image, resized, width, height);
        return ImageTensors.FromBgr(new ReadOnlySpan<byte>((void*)resized.Data, width * height * 3), width, height, config);
    }
}
