using System.Buffers.Binary;
using OpenCvSharp;
using StreamMtl.Api.V1;
using StreamMtl.Ingest.Frames;
using StreamMtl.Server.Configuration;

namespace StreamMtl.Server.Service;

/// <summary>
/// Decodes a client's frame (JPEG, PNG or raw BGR) after checking its declared size against the limits, so random bytes
/// and decompression bombs fail as InvalidArgument without large allocations. Errors are values: null frame plus a reason.
/// </summary>
public static class ClientFrameDecoder
{
    public static Frame? TryDecode(ClientFrame message, long index, DateTimeOffset now, LimitOptions limits, out string? error)
    {
        error = null;
        var data = message.Data.Span;
        if (data.Length == 0)
        {
            error = "frame data is empty";
            return null;
        }
        if (message.Width < 0 || message.Height < 0)
        {
            error = $"negative frame size {message.Width}x{message.Height}";
            return null;
        }
        int width;
        int height;
        switch (message.Format)
        {
            case FrameFormat.RawBgr:
                (width, height) = (message.Width, message.Height);
                if (width == 0 || height == 0)
                {
                    error = "raw BGR frames need width and height";
                    return null;
                }
                if ((long)width * height * 3 != data.Length)
                {
                    error = $"raw BGR {width}x{height} needs {(long)width * height * 3} bytes, got {data.Length}";
                    return null;
                }
                break;
            case FrameFormat.Jpeg or FrameFormat.Png:
                if (!TryReadHeader(data, message.Format, out width, out height))
                {
                    error = $"data is not a {message.Format.ToString().ToUpperInvariant()} image";
                    return null;
                }
                if ((message.Width != 0 && message.Width != width) || (message.Height != 0 && message.Height != height))
                {
                    error = $"image is {width}x{height}, the message says {message.Width}x{message.Height}";
                    return null;
                }
                break;
            default:
                error = $"unknown frame format {message.Format}";
                return null;
        }
        if (width < 16 || height < 16 || width > limits.MaxClientFrameWidth || height > limits.MaxClientFrameHeight)
        {
            error = $"frame size {width}x{height} must be within 16x16..{limits.MaxClientFrameWidth}x{limits.MaxClientFrameHeight}";
            return null;
        }
        Mat? image = null;
        try
        {
            if (message.Format == FrameFormat.RawBgr)
            {
                image = new Mat(height, width, MatType.CV_8UC3);
                unsafe
                {
                    data.CopyTo(new Span<byte>((void*)image.Data, data.Length));
                }
            }
            else
            {
                image = Cv2.ImDecode(data, ImreadModes.Color);
                if (image.Empty() || image.Width != width || image.Height != height || image.Type() != MatType.CV_8UC3)
                {
                    image.Dispose();
                    error = "image could not be decoded";
                    return null;
                }
            }
            var capture = message.CaptureTime?.ToDateTimeOffset() ?? now;
            return new Frame(image, index, TimeSpan.Zero, capture);
        }
        catch (Exception e) when (e is OpenCVException or ArgumentException)
        {
            image?.Dispose();
            error = "image could not be decoded: " + e.Message;
            return null;
        }
    }

    private static bool TryReadHeader(ReadOnlySpan<byte> data, FrameFormat format, out int width, out int height)
    {
        width = height = 0;
        if (format == FrameFormat.Png)
        {
            ReadOnlySpan<byte> signature = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];
            if (data.Length < 24 || !data[..8].SequenceEqual(signature) || !data.Slice(12, 4).SequenceEqual("IHDR"u8))
            {
                return false;
            }
            long w = BinaryPrimitives.ReadUInt32BigEndian(data.Slice(16, 4));
            long h = BinaryPrimitives.ReadUInt32BigEndian(data.Slice(20, 4));
            (width, height) = ((int)Math.Min(w, int.MaxValue), (int)Math.Min(h, int.MaxValue));
            return true;
        }
        if (data.Length < 4 || data[0] != 0xFF || data[1] != 0xD8)
        {
            return false;
        }
        int i = 2;
        while (i + 9 < data.Length)
        {
            if (data[i] != 0xFF)
            {
                return false;
            }
            byte marker = data[i + 1];
            if (marker == 0xFF)
            {
                i++;
                continue;
            }
            int length = BinaryPrimitives.ReadUInt16BigEndian(data.Slice(i + 2, 2));
            bool sof = marker is >= 0xC0 and <= 0xCF && marker is not (0xC4 or 0xC8 or 0xCC);
            if (sof)
            {
                height = BinaryPrimitives.ReadUInt16BigEndian(data.Slice(i + 5, 2));
                width = BinaryPrimitives.ReadUInt16BigEndian(data.Slice(i + 7, 2));
                return true;
            }
            if (length < 2)
            {
                return false;
            }
            i += 2 + length;
        }
        return false;
    }
}
