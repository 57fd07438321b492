using StreamMtl.Pipeline.Model;

namespace StreamMtl.Training.Data;

/// <summary>
/// PASCAL-Context in the multi-task layout of the dense-prediction literature ("PASCAL_MT" of ASTMT, MTI-Net, ATRC, InvPT):
/// JPEGImages/ID.jpg, semseg/pascal-context/ID.png (class ids 0..59, 0 = background, 255 = ignore), normals_distill/ID.png
/// (distilled normals, RGB = (n + 1) / 2 * 255), ImageSets/Context/train.txt and val.txt (4998 and 5105 ids). No depth.
/// </summary>
public sealed class PascalContextDataset : ListedDataset
{
    /// <summary>Background and the 59 classes of PASCAL-Context's common subset, in the usual order.</summary>
    public static IReadOnlyList<string> ClassNames { get; } =
    [
        "background",
        "aeroplane", "bag", "bed", "bedclothes", "bench", "bicycle", "bird", "boat", "book", "bottle",
        "building", "bus", "cabinet", "car", "cat", "ceiling", "chair", "cloth", "computer", "cow",
        "cup", "curtain", "dog", "door", "fence", "floor", "flower", "food", "grass", "ground",
        "horse", "keyboard", "light", "motorbike", "mountain", "mouse", "person", "plate", "platform", "pottedplant",
        "road", "rock", "sheep", "shelves", "sidewalk", "sign", "sky", "snow", "sofa", "table",
        "track", "train", "tree", "truck", "tvmonitor", "wall", "water", "window", "wood",
    ];

    private PascalContextDataset(string root)
        : base("pascal", root, (Path.Combine("ImageSets", "Context", "train.txt"), Path.Combine("ImageSets", "Context", "val.txt")),
            ("JPEGImages", [".jpg", ".png"]),
            new Dictionary<VisionTask, (string, string[])>
            {
                [VisionTask.Segmentation] = (Path.Combine("semseg", "pascal-context"), [".png"]),
                [VisionTask.Normals] = ("normals_distill", [".png"]),
            })
    {
    }

    public static PascalContextDataset Open(string root) => new(root);

    public override IReadOnlyList<string> Classes => ClassNames;

    protected override int MapLabel(byte stored) => stored == 255 || stored < ClassNames.Count ? stored : -1;

    protected override string LabelRule => "PASCAL-Context stores 0 = background, 1..59, 255 = ignore";
}
