using TorchSharp;
using static TorchSharp.torch;

namespace StreamMtl.Pipeline.Tests.Native;

/// <summary>TorchSharp's native library loads on this OS (patched where needed) and computes right.</summary>
public sealed class TorchSharpLoadTests
{
    private const string Glibcxx = "GLIBCXX_3.4.32";

    [Fact]
    public void MatmulComputesTheExpectedProduct()
    {
        using var scope = NewDisposeScope();
        var a = tensor(new float[] { 1, 2, 3, 4, 5, 6 }, new long[] { 2, 3 });
        var b = tensor(new float[] { 7, 8, 9, 10, 11, 12 }, new long[] { 3, 2 });
        var c = a.matmul(b);
        Assert.Equal(new float[] { 58, 64, 139, 154 }, c.data<float>().ToArray());
    }

    [Fact]
    public void TransformerLayerRunsForwardAndBackward()
    {
        using var scope = NewDisposeScope();
        random.manual_seed(3);
        var layer = nn.TransformerEncoderLayer(d_model: 32, nhead: 4, dim_feedforward: 64, dropout: 0.0);
        var x = randn(2, 10, 32).transpose(0, 1);
        var y = layer.call(x);
        y.pow(2).mean().backward();
        Assert.Equal(new long[] { 10, 2, 32 }, y.shape);
        Assert.True(float.IsFinite(y.sum().item<float>()));
        Assert.All(layer.parameters(), p => Assert.NotNull(p.grad));
    }

    [Fact]
    public void OutputCopyOfLibTorchSharpIsPatchedOnlyWhenTheSystemLacksTheVersion()
    {
        string copy = Path.Combine(AppContext.BaseDirectory, "libLibTorchSharp.so");
        Assert.True(File.Exists(copy), $"missing {copy}");
        string? system = ElfVersionNeeds.FindSystemLibStdCxx();
        Assert.NotNull(system);
        int flags = ElfVersionNeeds.ReadNeedFlags(copy, Glibcxx);
        Assert.True(flags >= 0, $"{copy} has no {Glibcxx} need; did TorchSharp change?");
        bool systemHasIt = ElfVersionNeeds.FileDefinesVersion(system!, Glibcxx);
        Assert.Equal(systemHasIt ? 0 : 2, flags & 2);
    }

    [Fact]
    public void PatchMarksOnlyTheNamedNeedAndIsIdempotent()
    {
        string copy = Path.Combine(AppContext.BaseDirectory, "libLibTorchSharp.so");
        string scratch = Path.Combine(Path.GetTempPath(), $"streammtl-elf-{Guid.NewGuid():N}.so");
        File.Copy(copy, scratch);
        try
        {
            int otherBefore = ElfVersionNeeds.ReadNeedFlags(scratch, "GLIBCXX_3.4.19");
            ElfVersionNeeds.MarkNeedWeak(scratch, Glibcxx);
            byte[] once = File.ReadAllBytes(scratch);
            ElfVersionNeeds.MarkNeedWeak(scratch, Glibcxx);
            Assert.Equal(once, File.ReadAllBytes(scratch));
            Assert.Equal(2, ElfVersionNeeds.ReadNeedFlags(scratch, Glibcxx) & 2);
            Assert.Equal(otherBefore, ElfVersionNeeds.ReadNeedFlags(scratch, "GLIBCXX_3.4.19"));
            Assert.Equal(-1, ElfVersionNeeds.ReadNeedFlags(scratch, "GLIBCXX_9.9.9"));
        }
        finally
        {
            File.Delete(scratch);
        }
    }

    [Fact]
    public void PatchRejectsNonElfInput()
    {
        string scratch = Path.Combine(Path.GetTempPath(), $"streammtl-elf-{Guid.NewGuid():N}.bin");
        File.WriteAllBytes(scratch, new byte[128]);
        try
        {
            Assert.Throws<InvalidDataException>(() => ElfVersionNeeds.ReadNeedFlags(scratch, Glibcxx));
        }
        finally
        {
            File.Delete(scratch);
        }
    }
}
