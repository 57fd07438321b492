using OpenCvSharp;
using StreamMtl.Pipeline.Model;
using StreamMtl.Training.Data;
using StreamMtl.Training.Teachers;

namespace StreamMtl.Training.Tests.Data;

/// <summary>The readers of the folder, NYUD-v2 and PASCAL-Context layouts on fixtures the tests write, and every error naming its file.</summary>
public sealed class DatasetReaderTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    [Fact]
    public void Folder_reads_the_labels_as_written_and_holds_out_the_last_tenth()
    {
        var data = Dataset.Open("folder", DatasetFixtures.Folder(_dir.File("f"), samples: 20));
        Assert.Equal(DatasetFixtures.FolderClasses, data.Classes);
        Assert.Equal([VisionTask.Segmentation, VisionTask.Depth, VisionTask.Normals], data.Tasks);
        Assert.Equal(Enumerable.Range(0, 18).Select(i => FolderLayout.Id(i)), data.Samples(DataSplit.Train).Select(s => s.Id));
        Assert.Equal(["000018", "000019"], data.Samples(DataSplit.Validation).Select(s => s.Id));

        var frame = new DatasetFrames(data, DataSplit.Validation, DatasetFixtures.Width, DatasetFixtures.Height)[1];
        var (bgr, classes, depth, normals) = DatasetFixtures.Scene(19);
        Assert.Equal(bgr, frame.Bgr);
        Assert.Equal(classes, frame.Truth.Labels);
        for (int i = 0; i < depth.Length; i++)
        {
            Assert.Equal(depth[i], frame.Truth.Depth[i], 0.0005f); // millimetres
        }
        for (int i = 0; i < normals.Length; i++)
        {
            Assert.Equal(normals[i], frame.Truth.Normals[i], 0.01f); // 8 bits per axis
        }
    }

    [Fact]
    public void Folder_split_files_choose_the_samples_and_missing_labels_mean_no_label()
    {
        string root = DatasetFixtures.Folder(_dir.File("f"), samples: 4);
        Directory.CreateDirectory(Path.Combine(root, "splits"));
        File.WriteAllLines(Path.Combine(root, "splits", "train.txt"), ["000001", "000003"]);
        File.WriteAllLines(Path.Combine(root, "splits", "val.txt"), ["000000"]);
        File.Delete(Path.Combine(root, "depth", "000000.png"));
        File.Delete(Path.Combine(root, "normals", "000000.png"));
        var data = Dataset.Open("folder", root);
        Assert.Equal(["000001", "000003"], data.Samples(DataSplit.Train).Select(s => s.Id));
        var frame = new DatasetFrames(data, DataSplit.Validation, DatasetFixtures.Width, DatasetFixtures.Height)[0];
        Assert.All(frame.Truth.Depth, d => Assert.Equal(0, d));
        Assert.All(frame.Truth.Normals, n => Assert.Equal(0, n));
        Assert.Equal(DatasetFixtures.Scene(0).Classes, frame.Truth.Labels);
    }

    [Fact]
    public void Nyud_maps_0_to_ignore_and_1_to_40_to_class_ids_and_reads_npy_depth_and_normals()
    {
        var data = Dataset.Open("nyud", DatasetFixtures.Nyud(_dir.File("n")));
        Assert.Equal(40, data.Classes.Count);
        Assert.Equal(("wall", "otherprop"), (data.Classes[0], data.Classes[39]));
        Assert.Equal([VisionTask.Segmentation, VisionTask.Depth, VisionTask.Normals], data.Tasks);
        Assert.Equal(["000006", "000007"], data.Samples(DataSplit.Validation).Select(s => s.Id));
        var frame = new DatasetFrames(data, DataSplit.Validation, DatasetFixtures.Width, DatasetFixtures.Height)[0];
        var (_, classes, depth, normals) = DatasetFixtures.Scene(6);
        int lastRow = DatasetFixtures.Width * (DatasetFixtures.Height - 1);
        Assert.Equal(classes[..lastRow], frame.Truth.Labels[..lastRow]);
        Assert.All(frame.Truth.Labels[lastRow..], l => Assert.Equal(255, l));
        Assert.Equal(depth, frame.Truth.Depth);
        Assert.Equal(0, frame.Truth.Depth[0]); // invalid stays invalid
        for (int i = 0; i < normals.Length; i++)
        {
            Assert.Equal(normals[i], frame.Truth.Normals[i], 1e-6f);
        }
    }

    [Theory]
    [InlineData("pascal", 21, "tvmonitor")]
    [InlineData("pascal59", 60, "wood")]
    public void Pascal_has_background_and_its_classes_255_ignored_and_no_depth(string kind, int classCount, string last)
    {
        var data = Dataset.Open(kind, DatasetFixtures.Pascal(_dir.File("p")));
        Assert.Equal(classCount, data.Classes.Count);
        Assert.Equal(("background", "aeroplane", last), (data.Classes[0], data.Classes[1], data.Classes[^1]));
        Assert.Equal([VisionTask.Segmentation, VisionTask.Normals], data.Tasks);
        var frame = new DatasetFrames(data, DataSplit.Train, DatasetFixtures.Width, DatasetFixtures.Height)[2];
        var classes = DatasetFixtures.Scene(2).Classes;
        int lastRow = DatasetFixtures.Width * (DatasetFixtures.Height - 1);
        Assert.Equal(classes[..lastRow], frame.Truth.Labels[..lastRow]);
        Assert.All(frame.Truth.Labels[lastRow..], l => Assert.Equal(255, l));
        Assert.All(frame.Truth.Depth, d => Assert.Equal(0, d));
    }

    [Fact]
    public void Frames_are_resized_with_labels_taken_by_nearest_neighbour()
    {
        var data = Dataset.Open("nyud", DatasetFixtures.Nyud(_dir.File("n")));
        var frame = new DatasetFrames(data, DataSplit.Train, 32, 24)[0];
        Assert.Equal((32, 24, 32 * 24 * 3), (frame.Width, frame.Height, frame.Bgr.Length));
        var (_, classes, depth, _) = DatasetFixtures.Scene(0);
        for (int y = 0; y < 23; y++)
        {
            for (int x = 0; x < 32; x++)
            {
                int source = (2 * y + 1) * DatasetFixtures.Width + 2 * x + 1;
                Assert.Equal(classes[source], frame.Truth.Labels[y * 32 + x]);
                Assert.Equal(depth[source], frame.Truth.Depth[y * 32 + x]);
            }
        }
    }

    [Fact]
    public void A_corrupt_png_is_named()
    {
        var data = Dataset.Open("folder", DatasetFixtures.Folder(_dir.File("f"), samples: 3));
        string broken = Path.Combine(_dir.File("f"), "segmentation", "000002.png");
        File.WriteAllBytes(broken, [0x89, (byte)'P', (byte)'N', (byte)'G', 1, 2, 3, 4, 5]);
        var error = Assert.Throws<DatasetException>(() => new DatasetFrames(data, DataSplit.Validation, 64, 48)[0]);
        Assert.Equal($"{broken}: not an image OpenCV can read (corrupt or truncated?)", error.Message);
    }

    [Fact]
    public void A_label_of_another_size_is_named_with_its_image()
    {
        string root = DatasetFixtures.Nyud(_dir.File("n"));
        string label = Path.Combine(root, "segmentation", "000001.png");
        DatasetFixtures.WritePng(label, new byte[32 * 24], MatType.CV_8UC1, 32, 24);
        var data = Dataset.Open("nyud", root);
        var error = Assert.Throws<DatasetException>(() => new DatasetFrames(data, DataSplit.Train, 64, 48)[1]);
        Assert.Equal($"{label}: 32x24, but its image {Path.Combine(root, "images", "000001.jpg")} is 64x48", error.Message);

        string depth = Path.Combine(root, "depth", "000002.npy");
        Npy.Write(depth, new float[10], [2, 5]);
        error = Assert.Throws<DatasetException>(() => new DatasetFrames(data, DataSplit.Train, 64, 48)[2]);
        Assert.StartsWith($"{depth}: shape [2,5] does not match its image", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("folder", 3, "label 3 at pixel (5, 7) is not in the class table (ids 0..2 of classes.json, 255 = ignore)")]
    [InlineData("nyud", 41, "label 41 at pixel (5, 7) is not in the class table (NYUD stores classes 1..40 and 0 = unlabelled)")]
    [InlineData("pascal", 21, "label 21 at pixel (5, 7) is not in the class table (pascal stores 0 = background, 1..20, 255 = ignore)")]
    [InlineData("pascal59", 60, "label 60 at pixel (5, 7) is not in the class table (pascal59 stores 0 = background, 1..59, 255 = ignore)")]
    public void A_class_id_past_the_table_is_named_with_its_pixel(string kind, byte id, string message)
    {
        string root = kind switch
        {
            "folder" => DatasetFixtures.Folder(_dir.File(kind), samples: 3),
            "nyud" => DatasetFixtures.Nyud(_dir.File(kind)),
            _ => DatasetFixtures.Pascal(_dir.File(kind)),
        };
        var data = Dataset.Open(kind, root);
        var sample = data.Samples(DataSplit.Train)[0];
        using (var labels = Cv2.ImRead(sample.Segmentation!, ImreadModes.Unchanged))
        {
            labels.Set(7, 5, id);
            Cv2.ImWrite(sample.Segmentation!, labels);
        }
        var error = Assert.Throws<DatasetException>(() => data.Load(sample, 64, 48));
        Assert.Equal($"{sample.Segmentation}: {message}", error.Message);
    }

    [Fact]
    public void Missing_split_files_images_and_labels_are_named_when_the_data_set_opens()
    {
        string nyud = DatasetFixtures.Nyud(_dir.File("n"));
        File.Delete(Path.Combine(nyud, "gt_sets", "val.txt"));
        Assert.Equal($"{Path.Combine(nyud, "gt_sets", "val.txt")}: missing split file",
            Assert.Throws<DatasetException>(() => Dataset.Open("nyud", nyud)).Message);

        string pascal = DatasetFixtures.Pascal(_dir.File("p"));
        File.Delete(Path.Combine(pascal, "JPEGImages", DatasetFixtures.PascalId(3) + ".jpg"));
        Assert.Equal($"{Path.Combine(pascal, "JPEGImages", DatasetFixtures.PascalId(3) + ".jpg")}: missing file",
            Assert.Throws<DatasetException>(() => Dataset.Open("pascal", pascal)).Message);

        string again = DatasetFixtures.Nyud(_dir.File("n2"));
        File.Delete(Path.Combine(again, "normals", "000004.npy"));
        Assert.Equal($"{Path.Combine(again, "normals", "000004.npy")}: missing file",
            Assert.Throws<DatasetException>(() => Dataset.Open("nyud", again)).Message);

        string folder = DatasetFixtures.Folder(_dir.File("f"), samples: 3);
        File.Delete(Path.Combine(folder, "classes.json"));
        Assert.Equal($"{Path.Combine(folder, "classes.json")}: missing file (the class table of segmentation/)",
            Assert.Throws<DatasetException>(() => Dataset.Open("folder", folder)).Message);
        Assert.Equal($"{Path.Combine(_dir.Path, "images")}: missing folder (the folder layout keeps its frames in images/)",
            Assert.Throws<DatasetException>(() => Dataset.Open("folder", _dir.Path)).Message);
    }

    [Fact]
    public void Nyud_depth_saved_by_numpy_as_float64_is_read()
    {
        string root = DatasetFixtures.Nyud(_dir.File("n"));
        var depth = DatasetFixtures.Scene(1).Depth;
        string header = "{'descr': '<f8', 'fortran_order': False, 'shape': (48, 64), }";
        header = header.PadRight(128 - 10 - 1) + "\n";
        using (var file = File.Create(Path.Combine(root, "depth", "000001.npy")))
        {
            file.Write([0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0, (byte)header.Length, 0]);
            file.Write(System.Text.Encoding.ASCII.GetBytes(header));
            file.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(depth.Select(d => (double)d).ToArray().AsSpan()));
        }
        var data = Dataset.Open("nyud", root);
        Assert.Equal(depth, data.Load(data.Samples(DataSplit.Train)[1], 64, 48).Truth.Depth);
    }

    [Fact]
    public void Relative_depth_in_the_folder_layout_is_refused_with_the_reason()
    {
        string root = DatasetFixtures.Folder(_dir.File("f"), samples: 3);
        File.Delete(Path.Combine(root, "depth", "000000.png"));
        string relative = Path.Combine(root, "depth", "000000.npy");
        Npy.Write(relative, new float[64 * 48], [48, 64]);
        var data = Dataset.Open("folder", root);
        var error = Assert.Throws<DatasetException>(() => data.Load(data.Samples(DataSplit.Train)[0], 64, 48));
        Assert.StartsWith($"{relative}: relative or inverse depth (float .npy) has no metric scale", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Pascal_reads_the_voc12_label_map_where_one_exists_as_the_literature_loaders_do()
    {
        string root = DatasetFixtures.Pascal(_dir.File("p"));
        string id = DatasetFixtures.PascalId(0);
        Directory.CreateDirectory(Path.Combine(root, "semseg", "VOC12"));
        DatasetFixtures.WritePng(Path.Combine(root, "semseg", "VOC12", id + ".png"), Enumerable.Repeat((byte)15, 64 * 48).ToArray(), MatType.CV_8UC1);
        var samples = Dataset.Open("pascal", root).Samples(DataSplit.Train);
        Assert.Equal(Path.Combine(root, "semseg", "VOC12", id + ".png"), samples[0].Segmentation);
        Assert.Equal(Path.Combine(root, "semseg", "pascal-context", DatasetFixtures.PascalId(1) + ".png"), samples[1].Segmentation);
        Assert.Equal("person", Dataset.Open("pascal", root).Classes[15]);
    }

    public void Dispose() => _dir.Dispose();
}
