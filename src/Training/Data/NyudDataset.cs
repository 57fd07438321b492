using StreamMtl.Pipeline.Model;

namespace StreamMtl.Training.Data;

/// <summary>
/// NYUD-v2 in the multi-task layout of the dense-prediction literature ("NYUD_MT" of ASTMT, MTI-Net, ATRC, InvPT):
/// images/ID.jpg, segmentation/ID.png (the 40 classes of Gupta et al. stored 1..40, 0 = unlabelled, ignored),
/// depth/ID.npy (metres, 0 = invalid; a 16-bit millimetre PNG is read too), normals/ID.npy ([H,W,3] vectors; or an RGB PNG),
/// gt_sets/train.txt and gt_sets/val.txt (795 and 654 ids).
/// </summary>
public sealed class NyudDataset : ListedDataset
{
    /// <summary>The 40 classes (Gupta, Arbelaez, Malik, CVPR 2013), class id = stored value - 1.</summary>
    public static IReadOnlyList<string> ClassNames { get; } =
    [
        "wall", "floor", "cabinet", "bed", "chair", "sofa", "table", "door", "window", "bookshelf",
        "picture", "counter", "blinds", "desk", "shelves", "curtain", "dresser", "pillow", "mirror", "floor mat",
        "clothes", "ceiling", "books", "refridgerator", "television", "paper", "towel", "shower curtain", "box", "whiteboard",
        "person", "night stand", "toilet", "sink", "lamp", "bathtub", "bag", "otherstructure", "otherfurniture", "otherprop",
    ];

    private NyudDataset(string root)
        : base("nyud", root, (Path.Combine("gt_sets", "train.txt"), Path.Combine("gt_sets", "val.txt")), [Path.Combine("images", "{0}.png"), Path.Combine("images", "{0}.jpg")],
            new Dictionary<VisionTask, string[]>
            {
                [VisionTask.Segmentation] = [Path.Combine("segmentation", "{0}.png")],
                [VisionTask.Depth] = [Path.Combine("depth", "{0}.png"), Path.Combine("depth", "{0}.npy")],
                [VisionTask.Normals] = [Path.Combine("normals", "{0}.png"), Path.Combine("normals", "{0}.npy")],
            })
    {
    }

    public static NyudDataset Open(string root) => new(root);

    public override IReadOnlyList<string> Classes => ClassNames;

    protected override int MapLabel(byte stored) => stored == 0 ? 255 : stored <= ClassNames.Count ? stored - 1 : -1;

    protected override string LabelRule => "NYUD stores classes 1..40 and 0 = unlabelled";
}
