using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using StreamMtl.Pipeline.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace StreamMtl.Pipeline.Tests.Native;

/// <summary>
/// Temporary TorchSharp scalars crash the process when the finaliser frees them while libtorch reads them (see
/// <see cref="Scalars"/>). One test compiles the pipeline's sources and finds every construct that makes one; the
/// others run the safe helpers and the per-frame paths beside a thread that forces collections and finalisers nonstop,
/// which kills the test host if a temporary is made (a plain <c>a + b</c> there dies in under a second).
/// </summary>
public sealed class TemporaryScalarTests
{
    [Fact]
    public void The_pipeline_sources_make_no_temporary_scalar()
    {
        var compilation = CompilePipeline();
        // CS8795: a [LoggerMessage] partial whose body the logging source generator writes (the scan runs no generators).
        var errors = compilation.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error && d.Id != "CS8795").Take(5).ToList();
        Assert.True(errors.Count == 0, "the scan needs the pipeline to compile: " + string.Join("; ", errors));
        var scalar = compilation.GetTypeByMetadataName("TorchSharp.Scalar")!;
        var tensor = compilation.GetTypeByMetadataName("TorchSharp.torch+Tensor")!;
        var found = new List<string>();
        foreach (var tree in compilation.SyntaxTrees)
        {
            var model = compilation.GetSemanticModel(tree);
            foreach (var node in tree.GetRoot().DescendantNodes())
            {
                string? why = node switch
                {
                    ExpressionSyntax e when model.GetConversion(e) is { IsUserDefined: true, MethodSymbol: { } m }
                        && SymbolEqualityComparer.Default.Equals(m.ReturnType, scalar) => "implicit conversion to Scalar",
                    BinaryExpressionSyntax or AssignmentExpressionSyntax when model.GetSymbolInfo(node).Symbol is IMethodSymbol
                        { Name: "op_Addition" } op && SymbolEqualityComparer.Default.Equals(op.ContainingType, tensor) => "Tensor + (its alpha of 1)",
                    BinaryExpressionSyntax or AssignmentExpressionSyntax when model.GetSymbolInfo(node).Symbol is IMethodSymbol op
                        && SymbolEqualityComparer.Default.Equals(op.ContainingType, tensor) && op.Parameters.Any(p => IsNumber(p.Type))
                        => "Tensor operator on a number (TorchSharp makes the Scalar)",
                    InvocationExpressionSyntax i when model.GetSymbolInfo(i).Symbol is IMethodSymbol m
                        && SymbolEqualityComparer.Default.Equals(m.ContainingType, tensor) && MakesHiddenScalar(m) => $"Tensor.{m.Name} with its default scalar",
                    _ => null,
                };
                if (why != null)
                {
                    var line = node.GetLocation().GetLineSpan();
                    found.Add($"{Path.GetFileName(line.Path)}:{line.StartLinePosition.Line + 1}: {why}: {node.ToString().Split('\n')[0].Trim()}");
                }
            }
        }
        Assert.True(found.Count == 0, $"{found.Count} temporary scalar(s):\n" + string.Join("\n", found.Distinct()));
    }

    private static bool IsNumber(ITypeSymbol type) => type.SpecialType is SpecialType.System_Int32 or SpecialType.System_Int64
        or SpecialType.System_Single or SpecialType.System_Double or SpecialType.System_Byte or SpecialType.System_Int16 or SpecialType.System_Boolean;

    /// <summary>TorchSharp members that pass a fresh Scalar of their own (e.g. add(t) is add(t, 1)).</summary>
    private static bool MakesHiddenScalar(IMethodSymbol m) => m.Name switch
    {
        "add" or "add_" => m.Parameters.Length == 1,
        "addcdiv" or "addcdiv_" or "addcmul" or "addcmul_" => m.Parameters.Length == 2,
        "square" => true,
        _ => false,
    };

    [Fact]
    public void The_safe_additions_survive_constant_finalization()
    {
        using var a = randn(64, 192);
        using var b = randn(64, 192);
        using var sum = zeros(64, 192);
        long n = 0;
        using (new FinalizerChurn())
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            while (clock.Elapsed < TimeSpan.FromSeconds(3))
            {
                using var scope = NewDisposeScope();
                for (int i = 0; i < 100; i++, n++)
                {
                    a.Plus(b);
                    sum.PlusInPlace(b).PlusInPlace(1e-6);
                }
            }
        }
        Assert.True(n > 0);
    }

    [Fact]
    public void ForwardPassesSurviveConstantFinalization()
    {
        using var model = ReuseTestModels.Model(hmlpStem: true);
        model.eval();
        using var dense = new Pipeline.Runners.DenseStreamRunner(model, shareThreshold: 0.3f);
        using var reuse = new Pipeline.Reuse.ReuseStreamRunner(model,
            Pipeline.Model.ReuseSettings.Default with { KeyframeInterval = 0, Budget = 0.5f, AttentionRefresh = 0.9f });
        int width = ReuseTestModels.Width, height = ReuseTestModels.Height;
        var bgr = new byte[width * height * 3];
        var random = new Random(3);
        random.NextBytes(bgr);
        int frames = 0;
        long reused = 0;
        using (new FinalizerChurn())
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            while (clock.Elapsed < TimeSpan.FromSeconds(5) || frames < 20)
            {
                // New content in one random 16x16 patch, so the gate recomputes a few tokens.
                int row = random.Next(height / 16), col = random.Next(width / 16);
                for (int y = row * 16; y < row * 16 + 16; y++)
                {
                    random.NextBytes(bgr.AsSpan((y * width + col * 16) * 3, 16 * 3));
                }
                using var scope = NewDisposeScope();
                // Alternate float32 and bfloat16 products: the two paths make different temporaries.
                using var precision = Autocast.BFloat16(frames % 2 == 1);
                var input = Runners.ImageTensors.FromBgr(bgr, width, height, model.Config);
                dense.Run(input, frames, TaskSet.All);
                reused += reuse.Run(input, frames, TaskSet.All).Accounting.Tokens.Sum(t => t.Total - t.Recomputed);
                frames++;
            }
        }
        Assert.True(reused > 0, $"{frames} frames and no token reused: the gated paths did not run");
    }

    /// <summary>The sources of the projects that run TorchSharp (the pipeline and the offline tooling), compiled together against the assemblies this test runs with.</summary>
    private static CSharpCompilation CompilePipeline()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir != null && !File.Exists(Path.Combine(dir.FullName, "StreamMtl.sln")))
        {
            dir = dir.Parent;
        }
        Assert.NotNull(dir);
        var sep = Path.DirectorySeparatorChar;
        var trees = new[] { "Pipeline", "Training" }
            .SelectMany(project => Directory.EnumerateFiles(Path.Combine(dir.FullName, "src", project), "*.cs", SearchOption.AllDirectories))
            .Where(f => !f.Contains($"{sep}bin{sep}", StringComparison.Ordinal) && !f.Contains($"{sep}obj{sep}", StringComparison.Ordinal))
            .Concat(GeneratedFromProtos(Path.Combine(dir.FullName, "src", "Training", "obj")))
            .Select(f => CSharpSyntaxTree.ParseText(File.ReadAllText(f), CSharpParseOptions.Default.WithLanguageVersion(LanguageVersion.Preview), f))
            .Append(CSharpSyntaxTree.ParseText(
                "global using System; global using System.IO; global using System.Linq; global using System.Collections.Generic; " +
                "global using System.Threading; global using System.Threading.Tasks; global using System.Net.Http;",
                CSharpParseOptions.Default.WithLanguageVersion(LanguageVersion.Preview)));
        var platform = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator);
        var references = platform.Concat(Directory.EnumerateFiles(AppContext.BaseDirectory, "*.dll"))
            .Where(f => Path.GetFileName(f) is not ("StreamMtl.Pipeline.dll" or "StreamMtl.Pipeline.Tests.dll") && IsManaged(f))
            .DistinctBy(Path.GetFileName).Select(f => MetadataReference.CreateFromFile(f));
        return CSharpCompilation.Create("PipelineScan", trees, references,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, allowUnsafe: true, nullableContextOptions: NullableContextOptions.Enable));
    }

    /// <summary>
    /// The C# that Grpc.Tools generated from the tooling's .proto files (Teachers/Onnx/onnx_subset.proto), which the sources
    /// use: the newest copy of each (obj/ may hold a Debug and a Release build).
    /// </summary>
    private static IEnumerable<string> GeneratedFromProtos(string obj) =>
        !Directory.Exists(obj) ? [] : Directory.EnumerateFiles(obj, "*.cs", SearchOption.AllDirectories)
            .Where(f => File.ReadLines(f).Take(3).Any(line => line.Contains("Generated by the protocol buffer compiler", StringComparison.Ordinal)))
            .GroupBy(Path.GetFileName)
            .Select(g => g.MaxBy(File.GetLastWriteTimeUtc)!);

    private static bool IsManaged(string path)
    {
        try
        {
            System.Reflection.AssemblyName.GetAssemblyName(path);
            return true;
        }
        catch (BadImageFormatException)
        {
            return false;
        }
    }

    /// <summary>A thread that allocates and forces a full collection plus finalisers until disposed.</summary>
    private sealed class FinalizerChurn : IDisposable
    {
        private volatile bool _stop;
        private readonly Thread _thread;

        public FinalizerChurn()
        {
            _thread = new Thread(() =>
            {
                while (!_stop)
                {
                    var junk = new object[4096];
                    for (int i = 0; i < junk.Length; i += 8)
                    {
                        junk[i] = new byte[64];
                    }
                    GC.Collect();
                    GC.WaitForPendingFinalizers();
                }
            }) { IsBackground = true, Name = "finalizer-churn" };
            _thread.Start();
        }

        public void Dispose()
        {
            _stop = true;
            _thread.Join();
        }
    }
}
