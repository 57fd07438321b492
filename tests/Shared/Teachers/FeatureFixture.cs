using OpenCvSharp;
using StreamMtl.Training.Teachers;

namespace StreamMtl.Tests.Shared;

/// <summary>
/// A tiny feature-teacher folder (the layout `streammtl label` writes with a features teacher): seeded images of coloured
/// 16x16 blocks and, per image, a [1,C,h,w] map at stride 16 that is a fixed ReLU(W colour + b) of each block's mean colour,
/// so a linear probe on a trunk that sees the colours can learn it.
/// </summary>
internal static class FeatureFixture
{
    public const int Channels = 8;

    /// <summary>Writes <paramref name="count"/> samples of <paramref name="width"/> x <paramref name="height"/> (multiples of 16) to <paramref name="directory"/>.</summary>
    public static string Write(string directory, int count = 12, int width = 64, int height = 48, int seed = 11)
    {
        var random = new Random(seed);
        var weights = new float[Channels, 3];
        var bias = new float[Channels];
        var fixedRandom = new Random(1);
        for (int c = 0; c < Channels; c++)
        {
            bias[c] = (float)(fixedRandom.NextDouble() - 0.3);
            for (int k = 0; k < 3; k++)
            {
                weights[c, k] = (float)(fixedRandom.NextDouble() * 4 - 2);
            }
        }
        Directory.CreateDirectory(Path.Combine(directory, "images"));
        Directory.CreateDirectory(Path.Combine(directory, "features"));
        int rows = height / 16, cols = width / 16;
        for (int i = 0; i < count; i++)
        {
            using var image = new Mat(height, width, MatType.CV_8UC3);
            var map = new float[Channels * rows * cols];
            for (int r = 0; r < rows; r++)
            {
                for (int q = 0; q < cols; q++)
                {
                    byte[] bgr = [(byte)random.Next(256), (byte)random.Next(256), (byte)random.Next(256)];
                    image[new Rect(q * 16, r * 16, 16, 16)].SetTo(new Scalar(bgr[0], bgr[1], bgr[2]));
                    for (int c = 0; c < Channels; c++)
                    {
                        float v = bias[c] + weights[c, 0] * bgr[2] / 255f + weights[c, 1] * bgr[1] / 255f + weights[c, 2] * bgr[0] / 255f;
                        map[(c * rows + r) * cols + q] = Math.Max(0, v);
                    }
                }
            }
            string id = FolderLayout.Id(i);
            Cv2.ImWrite(Path.Combine(directory, "images", id + ".png"), image);
            Npy.Write(Path.Combine(directory, "features", id + ".npy"), map, [1, Channels, rows, cols]);
        }
        return directory;
    }
}
