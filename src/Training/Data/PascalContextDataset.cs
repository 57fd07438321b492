using StreamMtl.Pipeline.Model;

namespace StreamMtl.Training.Data;

/// <summary>
/// PASCAL-Context in the multi-task layout of the dense-prediction literature ("PASCAL_MT" of ASTMT, MTI-Net, ATRC, InvPT):
/// JPEGImages/ID.jpg, semantic segmentation PNGs (0 = background, 255 = ignore), normals_distill/ID.png (distilled normals,
/// RGB = (n + 1) / 2 * 255), ImageSets/Context/train.txt and val.txt (4998 and 5105 ids). No depth.
/// Two class tables: <c>pascal</c>, the literature's 21 (background and the 20 VOC categories, labelled on PASCAL-Context's
/// images; semseg/VOC12/ID.png where it exists, else semseg/pascal-context/ID.png, as its loaders read them), and
/// <c>pascal59</c>, background and the 59 classes of PASCAL-Context's common subset (semseg/pascal-context/ID.png holding those ids).
/// </summary>
public sealed class PascalContextDataset : ListedDataset
{
    /// <summary>Background and the 20 VOC categories: the multi-task literature's PASCAL-Context segmentation task.</summary>
    public static IReadOnlyList<string> VocClassNames { get; } =
    [
        "background",
        "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
        "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
    ];

    /// <summary>Background and the 59 classes of PASCAL-Context's common subset, in the usual order (mmsegmentation's PascalContextDataset).</summary>
    public static IReadOnlyList<string> ContextClassNames { get; } =
    [
        "background",
        "aeroplane", "bag", "bed", "bedclothes", "bench", "bicycle", "bird", "boat", "book", "bottle",
        "building", "bus", "cabinet", "car", "cat", "ceiling", "chair", "cloth", "computer", "cow",
        "cup", "curtain", "dog", "door", "fence", "floor", "flower", "food", "grass", "ground",
        "horse", "keyboard", "light", "motorbike", "mountain", "mouse", "person", "plate", "platform", "pottedplant",
        "road", "rock", "sheep", "shelves", "sidewalk", "sign", "sky", "snow", "sofa", "table",
        "track", "train", "tree", "truck", "tvmonitor", "wall", "water", "window", "wood",
    ];

    private readonly IReadOnlyList<string> _classes;

    private PascalContextDataset(string kind, string root, IReadOnlyList<string> classes, string[] segmentation)
        : base(kind, root, (Path.Combine("ImageSets", "Context", "train.txt"), Path.Combine("ImageSets", "Context", "val.txt")),
            [Path.Combine("JPEGImages", "{0}.png"), Path.Combine("JPEGImages", "{0}.jpg")],
            new Dictionary<VisionTask, string[]>
            {
                [VisionTask.Segmentation] = segmentation,
                [VisionTask.Normals] = [Path.Combine("normals_distill", "{0}.png")],
            })
    {
        _classes = classes;
    }

    /// <summary>The literature's task: 21 classes, VOC12 label maps first.</summary>
    public static PascalContextDataset Open(string root) => new("pascal", root, VocClassNames,
        [Path.Combine("semseg", "VOC12", "{0}.png"), Path.Combine("semseg", "pascal-context", "{0}.png")]);

    /// <summary>The 59-class task (plus background): label maps with those ids in semseg/pascal-context.</summary>
    public static PascalContextDataset Open59(string root) => new("pascal59", root, ContextClassNames, [Path.Combine("semseg", "pascal-context", "{0}.png")]);

    public override IReadOnlyList<string> Classes => _classes;

    protected override int MapLabel(byte stored) => stored == 255 || stored < _classes.Count ? stored : -1;

    protected override string LabelRule => $"{Kind} stores 0 = background, 1..{_classes.Count - 1}, 255 = ignore";
}
