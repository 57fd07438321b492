using StreamMtl.Pipeline.Model;
using static TorchSharp.torch;

namespace StreamMtl.Pipeline.Tests.Model;

/// <summary>The canvas's own per-pixel argmax over class logits agrees with libtorch's.</summary>
public sealed class PredictionCanvasTests
{
    [Theory]
    [InlineData(1, 7, 256)]
    [InlineData(50, 7, 256)]
    [InlineData(3, 40, 16)]
    public void The_class_of_each_pixel_is_what_torch_argmax_over_channels_gives(int tokens, int channels, int area)
    {
        using var scope = NewDisposeScope();
        random.manual_seed(11);
        // Rounded to a coarse grid so that many pixels hold equal maxima: both must pick the first of them.
        var logits = (randn(tokens, channels, area) * 2).round();
        var expected = logits.argmax(1).to(ScalarType.Byte).data<byte>().ToArray();
        var actual = PredictionCanvas.ArgmaxOverChannels(logits.data<float>().ToArray(), tokens, channels, area);
        Assert.Equal(expected, actual);
    }

    [Fact]
    public void Ties_go_to_the_first_class()
    {
        float[] logits = [1, 5, 5, 5, 2, 5];   // 1 token, 3 classes, 2 pixels: pixel 0 has 1,5,2 and pixel 1 has 5,5,5
        Assert.Equal([(byte)1, (byte)0], PredictionCanvas.ArgmaxOverChannels(logits, 1, 3, 2));
    }
}
