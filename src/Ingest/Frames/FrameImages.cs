using OpenCvSharp;

namespace StreamMtl.Ingest.Frames;

/// <summary>Brings decoded images to BGR8 at the requested size, disposing what it replaces.</summary>
internal static class FrameImages
{
    public static Mat Normalize(Mat image, int width, int height)
    {
        if (image.Type() != MatType.CV_8UC3)
        {
            var bgr = new Mat();
            var code = image.Channels() == 4 ? ColorConversionCodes.BGRA2BGR : ColorConversionCodes.GRAY2BGR;
            Cv2.CvtColor(image, bgr, code);
            image.Dispose();
            image = bgr;
        }
        if (width > 0 && height > 0 && (image.Width != width || image.Height != height))
        {
            var resized = new Mat();
            Downscale.Area(image, resized, width, height);
            image.Dispose();
            image = resized;
        }
        return image;
    }
}
