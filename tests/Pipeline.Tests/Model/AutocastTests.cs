using StreamMtl.Pipeline.Model;
using static TorchSharp.torch;

namespace StreamMtl.Pipeline.Tests.Model;

/// <summary>bfloat16 matrix products: close to float32, float32 in and out, float32 gradients, scoped per thread.</summary>
public sealed class AutocastTests
{
    [Fact]
    public void A_bfloat16_forward_is_close_to_float32_and_hands_back_float32()
    {
        var config = TinyModels.Config() with { StemWidths = [8, 16] };
        using var model = TinyModels.WithRandomDeltas(config);
        using var scope = NewDisposeScope();
        random.manual_seed(3);
        var images = randn(2, 3, 48, 64);
        using var exact = model.Forward(images, new ForwardOptions(TaskSet.All));
        using var fast = Run(() => model.Forward(images, new ForwardOptions(TaskSet.All)));
        foreach (var task in new[] { VisionTask.Segmentation, VisionTask.Depth, VisionTask.Normals })
        {
            var a = exact.Raw(task);
            var b = fast.Raw(task);
            Assert.Equal(ScalarType.Float32, b.dtype);
            double scale = a.abs().max().item<float>();
            double diff = (a - b).abs().max().item<float>();
            Assert.True(diff > 0, $"{task}: bfloat16 gave the float32 result bit for bit; the products did not run in bfloat16");
            Assert.True(diff < 0.05 * scale, $"{task}: bfloat16 differs by {diff} at scale {scale}");
        }
    }

    [Fact]
    public void Gradients_through_a_bfloat16_forward_are_float32_and_point_the_same_way()
    {
        using var model = TinyModels.WithRandomDeltas(TinyModels.Config());
        model.train();
        using var scope = NewDisposeScope();
        random.manual_seed(4);
        var images = randn(2, 3, 48, 64);
        var weight = model.get_parameter("blocks.0.attn.qkv.weight")!;

        Tensor Gradient(bool bf16)
        {
            model.zero_grad();
            ForwardResult result;
            using (Autocast.BFloat16(bf16))
            {
                result = model.Forward(images, new ForwardOptions(TaskSet.Segmentation));
            }
            using (result)
            {
                result.Raw(VisionTask.Segmentation).square().mean().backward();
            }
            return weight.grad!.clone();
        }
        var exact = Gradient(false);
        var fast = Gradient(true);
        Assert.Equal(ScalarType.Float32, fast.dtype);
        double cosine = (exact * fast).sum().item<float>() / (exact.norm().item<float>() * fast.norm().item<float>());
        Assert.True(cosine > 0.99, $"cosine {cosine}");
    }

    [Fact]
    public void Scopes_nest_and_restore_and_do_not_leak_to_other_threads()
    {
        Assert.False(Autocast.IsBFloat16);
        var outer = Autocast.BFloat16();
        try
        {
            Assert.True(Autocast.IsBFloat16);
            bool other = true;
            var thread = new Thread(() => other = Autocast.IsBFloat16);
            thread.Start();
            thread.Join();
            Assert.False(other);
            using (Autocast.BFloat16(false))
            {
                Assert.False(Autocast.IsBFloat16);
            }
            Assert.True(Autocast.IsBFloat16);
        }
        finally
        {
            outer.Dispose();
        }
        Assert.False(Autocast.IsBFloat16);
    }

    private static T Run<T>(Func<T> forward)
    {
        using (Autocast.BFloat16())
        {
            return forward();
        }
    }

    [Theory]
    [InlineData("flags\t\t: fpu vme avx512f avx512_bf16 avx512_vnni\n", true)]
    [InlineData("flags\t\t: fpu amx_bf16 amx_tile\n", true)]
    [InlineData("flags\t\t: fpu avx2 avx512f avx512_vnni\n", false)]
    [InlineData("Features\t: fp asimd bf16 i8mm\n", true)]
    [InlineData("Features\t: fp asimd evtstrm\n", false)]
    [InlineData("processor\t: 0\n", null)]
    public void The_cpu_probe_reads_the_bfloat16_flags(string cpuinfo, bool? expected)
    {
        string path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, "processor\t: 0\nmodel name\t: test\n" + cpuinfo);
            Assert.Equal(expected, Autocast.CpuHasBFloat16(path));
        }
        finally
        {
            File.Delete(path);
        }
        Assert.Null(Autocast.CpuHasBFloat16(path));
    }
}
