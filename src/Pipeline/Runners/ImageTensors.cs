using StreamMtl.Pipeline.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace StreamMtl.Pipeline.Runners;

/// <summary>Turns BGR8 pixels into the model's normalised RGB float input.</summary>
public static class ImageTensors
{
    /// <summary>Copies H x W x 3 BGR bytes into a uint8 tensor [H, W, 3].</summary>
    public static Tensor Bytes(ReadOnlySpan<byte> bgr, int width, int height)
    {
        long expected = (long)width * height * 3;
        if (bgr.Length != expected)
        {
            throw new ArgumentException($"expected {expected} BGR bytes for {width}x{height}, got {bgr.Length}", nameof(bgr));
        }
        var t = empty(height, width, 3, ScalarType.Byte);
        // One block copy into the tensor's memory (Tensor.bytes is a span over it). TorchSharp's accessor CopyFrom walks
        // element by element and asks the native tensor for its size at every step: 1.6 ms a 320x240 frame, on the
        // inference thread, against 0.01 ms (measured).
        bgr.CopyTo(t.bytes);
        return t;
    }

    /// <summary>Normalises uint8 BGR images [B, H, W, 3] (or [H, W, 3]) to float RGB [B, 3, H, W].</summary>
    public static Tensor Normalise(Tensor bgrBytes, ModelConfig config)
    {
        var batched = bgrBytes.dim() == 3 ? bgrBytes.unsqueeze(0) : bgrBytes;
        // (x / 255 - mean) / std as x * scale + shift with per-channel tensors. No implicit Scalar temporaries:
        // TorchSharp 0.107 lets the GC finalise those while the native call still reads them (seen as a
        // "toDouble: Expected false to be true" crash under GC pressure in training).
        var rgb = batched.flip(-1).permute(0, 3, 1, 2).to(ScalarType.Float32);
        var scale = new float[3];
        var shift = new float[3];
        for (int c = 0; c < 3; c++)
        {
            scale[c] = 1f / (255f * config.Std[c]);
            shift[c] = -config.Mean[c] / config.Std[c];
        }
        using var scaleTensor = tensor(scale).view(1, 3, 1, 1);
        using var shiftTensor = tensor(shift).view(1, 3, 1, 1);
        return rgb.mul_(scaleTensor).PlusInPlace(shiftTensor);
    }

    /// <summary>One BGR image to model input [1, 3, H, W].</summary>
    public static Tensor FromBgr(ReadOnlySpan<byte> bgr, int width, int height, ModelConfig config)
    {
        using var bytes = Bytes(bgr, width, height);
        return Normalise(bytes, config);
    }
}
