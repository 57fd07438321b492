using System.Text.RegularExpressions;

namespace StreamMtl.Pipeline.Tests.Architecture;

/// <summary>
/// Imports point one way (Server -> Training -> Pipeline -> Ingest; inside a project, folder by folder): no circles
/// between the folders (namespaces) of src/, and no runtime or tooling code that knows the server or the proto.
/// </summary>
public sealed partial class ImportDirectionTests
{
    [Fact]
    public void No_folder_of_src_imports_a_folder_that_imports_it_back()
    {
        var graph = Graph();
        var cycles = new List<string>();
        foreach (var from in graph.Keys)
        {
            foreach (var to in graph[from])
            {
                if (Reaches(graph, to, from, []))
                {
                    cycles.Add($"{from} -> {to} -> ... -> {from}");
                }
            }
        }
        Assert.True(cycles.Count == 0, "import circles:\n" + string.Join("\n", cycles.Distinct().Order()));
    }

    [Fact]
    public void The_pipeline_tooling_and_ingest_never_reference_the_door()
    {
        var graph = Graph();
        var leaks = graph.Where(kv => !kv.Key.StartsWith("StreamMtl.Server", StringComparison.Ordinal))
            .SelectMany(kv => kv.Value.Where(to => to.StartsWith("StreamMtl.Server", StringComparison.Ordinal) || to.StartsWith("StreamMtl.Api", StringComparison.Ordinal))
                .Select(to => $"{kv.Key} -> {to}"))
            .ToList();
        Assert.True(leaks.Count == 0, "references to the server or the proto:\n" + string.Join("\n", leaks));
        Assert.DoesNotContain(graph.Keys.Where(k => k.StartsWith("StreamMtl.Pipeline", StringComparison.Ordinal)),
            k => graph[k].Any(to => to.StartsWith("StreamMtl.Training", StringComparison.Ordinal)));
    }

    /// <summary>Namespace (two levels below StreamMtl, e.g. StreamMtl.Pipeline.Model) -> the namespaces its files use.</summary>
    private static Dictionary<string, HashSet<string>> Graph()
    {
        string src = Path.Combine(RepositoryFiles.Root(), "src");
        var sep = Path.DirectorySeparatorChar;
        var graph = new Dictionary<string, HashSet<string>>();
        foreach (var file in Directory.EnumerateFiles(src, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{sep}obj{sep}", StringComparison.Ordinal) && !f.Contains($"{sep}bin{sep}", StringComparison.Ordinal)))
        {
            string text = File.ReadAllText(file);
            if (NamespacePattern().Match(text) is not { Success: true } declared)
            {
                continue;
            }
            string from = Folder(declared.Groups[1].Value);
            var uses = graph.TryGetValue(from, out var set) ? set : graph[from] = [];
            foreach (Match m in ReferencePattern().Matches(text))
            {
                string to = Folder(m.Value);
                if (to != from)
                {
                    uses.Add(to);
                }
            }
            // Sibling namespaces named without the StreamMtl prefix (e.g. Pipeline.Model.X inside StreamMtl.Pipeline.*).
            string project = string.Join('.', from.Split('.').Take(2));
            foreach (Match m in RelativePattern().Matches(text))
            {
                string to = Folder("StreamMtl." + m.Groups[1].Value);
                if (to != from && to.StartsWith(project, StringComparison.Ordinal) && Directory.Exists(Path.Combine(src, to.Split('.')[1], to.Split('.').ElementAtOrDefault(2) ?? "")))
                {
                    uses.Add(to);
                }
            }
        }
        return graph;
    }

    private static string Folder(string ns) => string.Join('.', ns.Split('.').Take(3));

    private static bool Reaches(Dictionary<string, HashSet<string>> graph, string from, string target, HashSet<string> seen)
    {
        if (from == target)
        {
            return true;
        }
        if (!seen.Add(from) || !graph.TryGetValue(from, out var next))
        {
            return false;
        }
        return next.Any(n => Reaches(graph, n, target, seen));
    }

    [GeneratedRegex(@"^namespace (StreamMtl\.[\w.]+);", RegexOptions.Multiline)]
    private static partial Regex NamespacePattern();

    [GeneratedRegex(@"StreamMtl(\.\w+){1,2}")]
    private static partial Regex ReferencePattern();

    [GeneratedRegex(@"(?<![\w.])((?:Pipeline|Ingest|Training|Server)\.\w+)\.\w+")]
    private static partial Regex RelativePattern();
}
