namespace StreamMtl.Ingest.Synthetic;

/// <summary>The synthetic camera's semantic classes; ids are the label values in ground truth and model output.</summary>
public static class SyntheticClasses
{
    public const byte Floor = 0;
    public const byte Wall = 1;
    public const byte Box = 2;
    public const byte Sphere = 3;
    public const byte Cylinder = 4;
    public const byte Cone = 5;
    public const byte Capsule = 6;

    /// <summary>Class names indexed by id.</summary>
    public static IReadOnlyList<string> Names { get; } = ["floor", "wall", "box", "sphere", "cylinder", "cone", "capsule"];

    /// <summary>Display colours (RGB) indexed by id, used for colour-mapped segmentation output.</summary>
    public static IReadOnlyList<(byte R, byte G, byte B)> Colors { get; } =
    [
        (128, 64, 128), (70, 70, 70), (220, 20, 60), (0, 142, 230), (250, 170, 30), (107, 142, 35), (190, 80, 220),
    ];

    public static int Count => Names.Count;
}
