using StreamMtl.Pipeline.Model;
using StreamMtl.Pipeline.Runners;
using static TorchSharp.torch;

namespace StreamMtl.Pipeline.Tests.Inference;

public sealed class ImageTensorsTests
{
    [Fact]
    public void Bytes_holds_every_pixel_in_height_width_channel_order()
    {
        const int width = 7, height = 5;
        var bgr = new byte[width * height * 3];
        new Random(12).NextBytes(bgr);
        using var scope = NewDisposeScope();
        var t = ImageTensors.Bytes(bgr, width, height);
        Assert.Equal([height, width, 3], t.shape);
        Assert.Equal(ScalarType.Byte, t.dtype);
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                for (int c = 0; c < 3; c++)
                {
                    Assert.Equal(bgr[((y * width) + x) * 3 + c], t[y, x, c].item<byte>());
                }
            }
        }
    }

    [Fact]
    public void FromBgr_gives_normalised_rgb_planes()
    {
        const int width = 4, height = 3;
        var bgr = new byte[width * height * 3];
        new Random(13).NextBytes(bgr);
        var config = new ModelConfig();
        using var scope = NewDisposeScope();
        var input = ImageTensors.FromBgr(bgr, width, height, config);
        Assert.Equal([1, 3, height, width], input.shape);
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                for (int c = 0; c < 3; c++)
                {
                    // RGB channel c is BGR byte 2 - c.
                    float expected = (bgr[((y * width) + x) * 3 + (2 - c)] / 255f - config.Mean[c]) / config.Std[c];
                    Assert.Equal(expected, input[0, c, y, x].item<float>(), 4);
                }
            }
        }
    }

    [Theory]
    [InlineData(0.5f, 0.25f)]
    [InlineData(0.45f, 0.226f)]
    public void FromBgr_equals_the_tensor_normalisation_bit_for_bit(float mean, float std)
    {
        const int width = 48, height = 32;
        var bgr = new byte[width * height * 3];
        new Random(14).NextBytes(bgr);
        bgr[0] = 0;
        bgr[1] = 255;
        var config = new ModelConfig { Mean = [mean, mean + 0.01f, mean - 0.02f], Std = [std, std * 1.1f, std * 0.9f] };
        using var scope = NewDisposeScope();
        var fast = ImageTensors.FromBgr(bgr, width, height, config);
        var reference = ImageTensors.Normalise(ImageTensors.Bytes(bgr, width, height), config);
        Assert.Equal(reference.shape, fast.shape);
        Assert.True(reference.eq(fast).all().item<bool>(), "FromBgr differs from Normalise(Bytes)");
    }

    [Fact]
    public void FromBgr_refuses_a_buffer_of_the_wrong_size()
    {
        var error = Assert.Throws<ArgumentException>(() => ImageTensors.FromBgr(new byte[10], 4, 3, new ModelConfig()));
        Assert.Contains("expected 36 BGR bytes for 4x3, got 10", error.Message);
    }

    [Fact]
    public void Bytes_refuses_a_buffer_of_the_wrong_size()
    {
        var error = Assert.Throws<ArgumentException>(() => ImageTensors.Bytes(new byte[10], 4, 3));
        Assert.Contains("expected 36 BGR bytes for 4x3, got 10", error.Message);
    }
}
