using System.CommandLine;
using static StreamMtl.Server.Cli.CliOptions;

namespace StreamMtl.Server.Cli;

public static partial class LabelCommand
{
    /// <summary>The options of <c>streammtl label</c>.</summary>
    internal static class Options
    {
        public static readonly Option<string[]> Teacher = new("--teacher")
        {
            HelpName = "TASK=FILE.onnx[:SPEC.json]",
            Description = "a single-task ONNX model and the JSON spec saying how to feed and read it [default spec: FILE.json]; " +
                "TASK is segmentation, depth, normals or features (repeatable, one per task; required)",
            Arity = ArgumentArity.ZeroOrMore,
            DefaultValueFactory = _ => [],
        };
        public static readonly Option<string?> Source = OptionalText("--source", "URI|DIR", "frames to label: a source URI (file, synthetic://, " +
            "rtsp://, ...) or a directory of images (png, jpg, bmp, tif, webp; in name order); required");
        public static readonly Option<string?> Out = OptionalText("--out", "DIR", "the layout's directory, new or empty (docs/datasets.md); required");
        public static readonly Option<int> Every = Int("--every", "label every N-th frame read", 1, 1, 1_000_000);
        public static readonly Option<int?> Frames = OptionalInt("--frames", "stop after M labelled frames [default: the whole source]", 1,
            int.MaxValue, helpName: "M");
        public static readonly Option<string?> Size = OptionalText("--size", "WxH", "resize frames to WxH before labelling and storing [default: the source's size]");
        public static readonly Option<bool> Soft = Flag("--soft", "also write soft targets: class probabilities as float16 " +
            "soft/segmentation/ID.npy");
        public static readonly Option<string> Device = Text("--device", "auto|cpu|cuda", "where the teachers run: auto takes CUDA when this " +
            "ONNX Runtime offers it", "auto");
        public static readonly Option<int> Threads = Int("--threads", "ONNX Runtime threads per teacher (0: its default)", 0, 0, 1024);
    }

    /// <summary>Printed after the generated help.</summary>
    internal const string Notes = """
        Writes DIR/images/ID.png, a label file per teacher's task (segmentation/ID.png 8-bit class ids, 255 = ignore;
        depth/ID.png 16-bit millimetres, 0 = invalid, or depth/ID.npy for relative and inverse depth; normals/ID.png),
        DIR/classes.json and DIR/teachers.json (which teacher made what). The spec format and the layout: docs/datasets.md.
        """;

    /// <summary>The label command with its options; its body is <see cref="RunAsync"/>.</summary>
    internal static Command Create() => CliOptions.Command("label", "run single-task ONNX teachers over a source or a directory of images " +
        "and write labels in the folder layout", RunAsync, Options.Teacher, Options.Source, Options.Out, Options.Every, Options.Frames,
        Options.Size, Options.Soft, Options.Device, Options.Threads);
}
