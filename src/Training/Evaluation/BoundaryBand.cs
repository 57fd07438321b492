namespace StreamMtl.Training.Evaluation;

/// <summary>
/// Splits a label map into the band along its class boundaries and the interior beyond it, so a pooled
/// segmentation figure can be told apart into "the edges are off by a pixel or two" and "the object is
/// called the wrong thing".
/// </summary>
public static class BoundaryBand
{
    /// <summary>
    /// A copy of <paramref name="labels"/> (row-major, <paramref name="width"/> x <paramref name="height"/>)
    /// in which the boundary pixels (those with a 4-neighbour of another label) and every pixel within
    /// <paramref name="radius"/> pixels of one (Chebyshev distance) are set to <paramref name="ignore"/>.
    /// Ignored pixels of the input stay ignored and do not make a boundary of their own.
    /// </summary>
    public static byte[] Interior(ReadOnlySpan<byte> labels, int width, int height, int radius, byte ignore = 255)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(radius);
        if (width < 1 || height < 1 || (long)width * height != labels.Length)
        {
            throw new ArgumentException($"a {width}x{height} map needs {(long)width * height} labels, got {labels.Length}");
        }
        var edge = new bool[labels.Length];
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                int i = y * width + x;
                byte l = labels[i];
                if (l == ignore) continue;
                if (x + 1 < width && labels[i + 1] != l && labels[i + 1] != ignore) edge[i] = edge[i + 1] = true;
                if (y + 1 < height && labels[i + width] != l && labels[i + width] != ignore) edge[i] = edge[i + width] = true;
            }
        }
        var interior = labels.ToArray();
        // Dilate the edge pixels by the radius: along rows, then along columns (a square is separable).
        var rows = new bool[edge.Length];
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                if (!edge[y * width + x]) continue;
                for (int k = Math.Max(0, x - radius); k <= Math.Min(width - 1, x + radius); k++) rows[y * width + k] = true;
            }
        }
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                if (!rows[y * width + x]) continue;
                for (int k = Math.Max(0, y - radius); k <= Math.Min(height - 1, y + radius); k++) interior[k * width + x] = ignore;
            }
        }
        return interior;
    }
}
