using OpenCvSharp;
using StreamMtl.Training.Teachers;

namespace StreamMtl.Tests.Shared;

/// <summary>
/// Tiny data sets written by the tests in each layout the readers take (64x48 frames): the folder layout, NYUD-v2's and
/// PASCAL-Context's multi-task layouts. Every sample is the same kind of scene with known labels (<see cref="Scene"/>), so a
/// test can check what a reader decodes and break one file at a time.
/// </summary>
internal static class DatasetFixtures
{
    public const int Width = 64;
    public const int Height = 48;

    /// <summary>The folder layout's class table.</summary>
    public static readonly string[] FolderClasses = ["floor", "wall", "box"];

    /// <summary>
    /// Sample <paramref name="index"/>: a wall (class 1, top), a floor (class 0, bottom) and a box (class 2) whose position moves
    /// with the index; depth grows with the row (0 = invalid in the top-left 4x4 corner); normals per class. Colours follow the class
    /// with a little per-sample tint. Class ids 0..2 here; each layout stores them its own way.
    /// </summary>
    public static (byte[] Bgr, byte[] Classes, float[] Depth, float[] Normals) Scene(int index)
    {
        var bgr = new byte[Width * Height * 3];
        var classes = new byte[Width * Height];
        var depth = new float[Width * Height];
        var normals = new float[Width * Height * 3];
        int boxX = 8 + index * 5 % 36;
        for (int y = 0; y < Height; y++)
        {
            for (int x = 0; x < Width; x++)
            {
                int i = y * Width + x;
                byte c = x >= boxX && x < boxX + 16 && y >= 20 && y < 36 ? (byte)2 : y < 24 ? (byte)1 : (byte)0;
                classes[i] = c;
                (byte b, byte g, byte r) = c switch { 0 => ((byte)40, (byte)160, (byte)60), 1 => ((byte)200, (byte)80, (byte)50), _ => ((byte)30, (byte)40, (byte)220) };
                bgr[3 * i] = (byte)(b + index % 7);
                bgr[3 * i + 1] = g;
                bgr[3 * i + 2] = (byte)(r - index % 5);
                depth[i] = x < 4 && y < 4 ? 0 : 1f + 0.05f * y + (c == 2 ? -0.5f : 0);
                (normals[3 * i], normals[3 * i + 1], normals[3 * i + 2]) = c switch { 0 => (0f, -1f, 0f), 1 => (0f, 0f, -1f), _ => (0.6f, 0f, -0.8f) };
            }
        }
        return (bgr, classes, depth, normals);
    }

    /// <summary>The folder layout with <paramref name="samples"/> samples (ids 000000..), segmentation, metric depth and normals.</summary>
    public static string Folder(string root, int samples = 10)
    {
        Directory.CreateDirectory(Path.Combine(root, "images"));
        foreach (var task in new[] { "segmentation", "depth", "normals" })
        {
            Directory.CreateDirectory(Path.Combine(root, task));
        }
        File.WriteAllText(Path.Combine(root, "classes.json"), $"{{\"classes\": [\"{string.Join("\", \"", FolderClasses)}\"], \"ignore\": 255}}");
        for (int s = 0; s < samples; s++)
        {
            var (bgr, classes, depth, normals) = Scene(s);
            string id = FolderLayout.Id(s);
            WritePng(Path.Combine(root, "images", id + ".png"), bgr, MatType.CV_8UC3);
            WritePng(Path.Combine(root, "segmentation", id + ".png"), classes, MatType.CV_8UC1);
            WritePng(Path.Combine(root, "depth", id + ".png"), FolderLayout.Millimetres(depth), MatType.CV_16UC1);
            WritePng(Path.Combine(root, "normals", id + ".png"), FolderLayout.NormalsBgr(normals), MatType.CV_8UC3);
        }
        return root;
    }

    /// <summary>
    /// NYUD-v2's multi-task layout: images/ID.jpg, segmentation/ID.png (class + 1; the bottom row 0 = unlabelled), depth/ID.npy
    /// (metres), normals/ID.npy ([H,W,3]), gt_sets/train.txt (ids 0..train-1) and val.txt (the next <paramref name="val"/>).
    /// </summary>
    public static string Nyud(string root, int train = 6, int val = 2)
    {
        foreach (var folder in new[] { "images", "segmentation", "depth", "normals", "gt_sets" })
        {
            Directory.CreateDirectory(Path.Combine(root, folder));
        }
        var ids = Enumerable.Range(0, train + val).Select(NyudId).ToArray();
        File.WriteAllLines(Path.Combine(root, "gt_sets", "train.txt"), ids[..train]);
        File.WriteAllLines(Path.Combine(root, "gt_sets", "val.txt"), ids[train..]);
        for (int s = 0; s < ids.Length; s++)
        {
            var (bgr, classes, depth, normals) = Scene(s);
            WriteJpeg(Path.Combine(root, "images", ids[s] + ".jpg"), bgr);
            var stored = classes.Select((c, i) => i >= Width * (Height - 1) ? (byte)0 : (byte)(c + 1)).ToArray();
            WritePng(Path.Combine(root, "segmentation", ids[s] + ".png"), stored, MatType.CV_8UC1);
            Npy.Write(Path.Combine(root, "depth", ids[s] + ".npy"), depth, [Height, Width]);
            Npy.Write(Path.Combine(root, "normals", ids[s] + ".npy"), normals, [Height, Width, 3]);
        }
        return root;
    }

    public static string NyudId(int index) => $"{index:D6}";

    /// <summary>
    /// PASCAL-Context's multi-task layout: JPEGImages/ID.jpg, semseg/pascal-context/ID.png (0 = background, classes 1..2 here, the
    /// bottom row 255 = ignore), normals_distill/ID.png, ImageSets/Context/train.txt and val.txt.
    /// </summary>
    public static string Pascal(string root, int train = 6, int val = 2)
    {
        foreach (var folder in new[] { "JPEGImages", Path.Combine("semseg", "pascal-context"), "normals_distill", Path.Combine("ImageSets", "Context") })
        {
            Directory.CreateDirectory(Path.Combine(root, folder));
        }
        var ids = Enumerable.Range(0, train + val).Select(PascalId).ToArray();
        File.WriteAllLines(Path.Combine(root, "ImageSets", "Context", "train.txt"), ids[..train]);
        File.WriteAllLines(Path.Combine(root, "ImageSets", "Context", "val.txt"), ids[train..]);
        for (int s = 0; s < ids.Length; s++)
        {
            var (bgr, classes, _, normals) = Scene(s);
            WriteJpeg(Path.Combine(root, "JPEGImages", ids[s] + ".jpg"), bgr);
            var stored = classes.Select((c, i) => i >= Width * (Height - 1) ? (byte)255 : c).ToArray();
            WritePng(Path.Combine(root, "semseg", "pascal-context", ids[s] + ".png"), stored, MatType.CV_8UC1);
            WritePng(Path.Combine(root, "normals_distill", ids[s] + ".png"), FolderLayout.NormalsBgr(normals), MatType.CV_8UC3);
        }
        return root;
    }

    public static string PascalId(int index) => $"2008_{index:D6}";

    /// <summary>Writes <paramref name="pixels"/> (row-major, channels interleaved) as a PNG of the given type at <paramref name="width"/> x <paramref name="height"/>.</summary>
    public static void WritePng<T>(string path, T[] pixels, MatType type, int width = Width, int height = Height) where T : unmanaged
    {
        using var image = Mat.FromPixelData(height, width, type, pixels);
        if (!Cv2.ImWrite(path, image))
        {
            throw new IOException($"could not write {path}");
        }
    }

    private static void WriteJpeg(string path, byte[] bgr)
    {
        using var image = Mat.FromPixelData(Height, Width, MatType.CV_8UC3, bgr);
        if (!Cv2.ImWrite(path, image, new ImageEncodingParam(ImwriteFlags.JpegQuality, 95)))
        {
            throw new IOException($"could not write {path}");
        }
    }
}
