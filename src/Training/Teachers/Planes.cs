using OpenCvSharp;

namespace StreamMtl.Training.Teachers;

/// <summary>Planar float maps ([C,H,W], row-major) resized channel by channel with OpenCV.</summary>
internal static class Planes
{
    /// <summary>Resizes every plane of <paramref name="planes"/> from w x h to <paramref name="width"/> x <paramref name="height"/>; the input itself when the size already matches.</summary>
    public static unsafe float[] Resize(float[] planes, int channels, int w, int h, int width, int height, InterpolationFlags interpolation)
    {
        if (w == width && h == height)
        {
            return planes;
        }
        var result = new float[channels * width * height];
        fixed (float* source = planes)
        {
            for (int c = 0; c < channels; c++)
            {
                using var plane = Mat.FromPixelData(h, w, MatType.CV_32FC1, (IntPtr)(source + (long)c * w * h));
                using var resized = new Mat();
                Cv2.Resize(plane, resized, new Size(width, height), 0, 0, interpolation);
                new ReadOnlySpan<float>((void*)resized.Data, width * height).CopyTo(result.AsSpan(c * width * height, width * height));
            }
        }
        return result;
    }
}
