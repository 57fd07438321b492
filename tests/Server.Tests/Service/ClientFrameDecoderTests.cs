using Google.Protobuf;
using OpenCvSharp;
using StreamMtl.Api.V1;
using StreamMtl.Server.Configuration;
using StreamMtl.Server.Service;

namespace StreamMtl.Server.Tests.Service;

/// <summary>The Process call's frame decoder without a host: real images in, specific errors for what is not one.</summary>
public sealed class ClientFrameDecoderTests
{
    private static readonly LimitOptions Limits = new() { MaxClientFrameWidth = 640, MaxClientFrameHeight = 480 };
    private static readonly DateTimeOffset Now = DateTimeOffset.UnixEpoch.AddDays(1);

    [Theory]
    [InlineData(".png", FrameFormat.Png)]
    [InlineData(".jpg", FrameFormat.Jpeg)]
    public void An_encoded_image_decodes_to_its_size_and_pixels(string extension, FrameFormat format)
    {
        using var source = new Mat(48, 64, MatType.CV_8UC3, new Scalar(10, 120, 240));
        Cv2.ImEncode(extension, source, out byte[] bytes);
        using var frame = ClientFrameDecoder.TryDecode(new ClientFrame { Data = ByteString.CopyFrom(bytes), Format = format }, 7, Now, Limits, out var error);
        Assert.Null(error);
        Assert.NotNull(frame);
        Assert.Equal((64, 48, 7L, Now), (frame.Width, frame.Height, frame.Index, frame.CaptureTime));
        var pixel = frame.Image.At<Vec3b>(20, 30);
        Assert.InRange(pixel.Item2, 235, 245);
    }

    [Fact]
    public void Raw_bgr_is_taken_as_is_when_its_length_matches()
    {
        var bytes = Enumerable.Range(0, 16 * 16 * 3).Select(i => (byte)i).ToArray();
        using var frame = ClientFrameDecoder.TryDecode(new ClientFrame { Data = ByteString.CopyFrom(bytes), Format = FrameFormat.RawBgr, Width = 16, Height = 16 },
            0, Now, Limits, out var error);
        Assert.Null(error);
        Assert.Equal(bytes[3 * 17], frame!.Image.At<Vec3b>(1, 1).Item0);
    }

    [Theory]
    [InlineData(FrameFormat.Png, 0, 0, 100, "data is not a PNG image")]
    [InlineData(FrameFormat.RawBgr, 16, 16, 100, "raw BGR 16x16 needs 768 bytes, got 100")]
    [InlineData(FrameFormat.RawBgr, 0, 0, 100, "raw BGR frames need width and height")]
    [InlineData(FrameFormat.RawBgr, 1000, 10, 30000, "frame size 1000x10 must be within 16x16..640x480")]
    [InlineData(FrameFormat.Unspecified, 0, 0, 100, "unknown frame format")]
    [InlineData(FrameFormat.Jpeg, 0, 0, 0, "frame data is empty")]
    public void What_is_not_an_acceptable_frame_is_refused_with_a_specific_error(FrameFormat format, int width, int height, int length, string expected)
    {
        var random = new Random(5);
        var bytes = new byte[length];
        random.NextBytes(bytes);
        var frame = ClientFrameDecoder.TryDecode(new ClientFrame { Data = ByteString.CopyFrom(bytes), Format = format, Width = width, Height = height },
            0, Now, Limits, out var error);
        Assert.Null(frame);
        Assert.Contains(expected, error);
    }
}
