using System.CommandLine;
using StreamMtl.Training.Teachers;

namespace StreamMtl.Server.Cli;

/// <summary>streammtl label: real single-task teachers (ONNX) over a user's recordings, written as the generic folder layout.</summary>
public static partial class LabelCommand
{
    public static async Task<int> RunAsync(ParseResult args)
    {
        string source = args.GetValue(Options.Source) ?? throw new CliException("--source URI|DIR is required");
        string output = args.GetValue(Options.Out) ?? throw new CliException("--out DIR is required");
        string[] entries = args.GetValue(Options.Teacher) ?? [];
        if (entries.Length == 0)
        {
            throw new CliException("at least one --teacher TASK=FILE.onnx[:SPEC.json] is required");
        }
        var parsed = entries.Select(ParseTeacher).ToList();
        if (parsed.GroupBy(t => t.Task).FirstOrDefault(g => g.Count() > 1) is { } twice)
        {
            throw new CliException($"--teacher: {twice.Key} is given {twice.Count()} times; one teacher per task");
        }
        var (width, height) = args.GetValue(Options.Size) is { } size ? Sizes.Parse(size) : (0, 0);
        var device = args.GetRequiredValue(Options.Device) switch
        {
            "auto" => TeacherDevice.Auto,
            "cpu" => TeacherDevice.Cpu,
            "cuda" => TeacherDevice.Cuda,
            var other => throw new CliException($"--device must be auto, cpu or cuda, got '{other}'"),
        };
        if (File.Exists(output))
        {
            throw new CliException($"--out {output} is a file; the layout is written to a new or empty directory");
        }
        if (Directory.Exists(output) && Directory.EnumerateFileSystemEntries(output).Any())
        {
            throw new CliException($"--out {output} is not empty; the layout is written to a new or empty directory");
        }
        var options = new LabelOptions
        {
            Source = source,
            OutputDirectory = output,
            Every = args.GetValue(Options.Every),
            MaxSamples = args.GetValue(Options.Frames),
            Width = width,
            Height = height,
            Soft = args.GetValue(Options.Soft),
        };
        int threads = args.GetValue(Options.Threads);
        var teachers = new List<OnnxTeacher>();
        try
        {
            foreach (var (task, model, spec) in parsed)
            {
                var teacher = OnnxTeacher.Load(task, model, spec, device, threads);
                teachers.Add(teacher);
                Console.WriteLine($"teacher {task}: {model} ({TeacherSpec.KindName(teacher.Spec.Kind)}, input {teacher.Spec.Width}x{teacher.Spec.Height}, " +
                    $"{teacher.Provider})");
            }
            using var stop = new StopSignal();
            var report = await Labeler.RunAsync(options, teachers, Console.WriteLine, stop.Token);
            Console.WriteLine($"{report.Samples} samples from {report.FramesRead} frames in {report.Elapsed.TotalSeconds:F1} s -> {output}" +
                (report.Interrupted ? " (interrupted; teachers.json lists what was written)" : ""));
            return report.Interrupted ? TrainCommand.Interrupted : 0;
        }
        finally
        {
            foreach (var teacher in teachers)
            {
                teacher.Dispose();
            }
        }
    }

    /// <summary>TASK=FILE.onnx[:SPEC.json]; the spec defaults to FILE.json.</summary>
    internal static (string Task, string Model, string? Spec) ParseTeacher(string text)
    {
        int equals = text.IndexOf('=');
        if (equals <= 0 || equals == text.Length - 1)
        {
            throw new CliException($"--teacher: '{text}' is not TASK=FILE.onnx[:SPEC.json], e.g. segmentation=models/seg.onnx:models/seg.json");
        }
        string task = text[..equals];
        if (!TeacherSpec.Tasks.ContainsKey(task))
        {
            throw new CliException($"--teacher: unknown task '{task}' in '{text}' (known: {string.Join(", ", TeacherSpec.Tasks.Keys)})");
        }
        string rest = text[(equals + 1)..];
        int colon = rest.LastIndexOf(':');
        return colon > 0 && rest[(colon + 1)..].EndsWith(".json", StringComparison.OrdinalIgnoreCase)
            ? (task, rest[..colon], rest[(colon + 1)..])
            : (task, rest, null);
    }
}
