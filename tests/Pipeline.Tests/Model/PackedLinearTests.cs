using StreamMtl.Pipeline.Model;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace StreamMtl.Pipeline.Tests.Model;

/// <summary>
/// Few-row products on packed weights (<see cref="PackedLinear"/>): the same sums as libtorch's, taken only where the
/// kernel runs (one intra-op thread, no gradients, float32, 2-D), repacked after the weights change, and used by the gated
/// pass with the same outputs as libtorch's products. On a CPU without AVX2 and FMA the kernel never runs: the tests then
/// check that everything takes libtorch's path instead.
/// </summary>
public sealed class PackedLinearTests
{
    [Theory]
    [InlineData(1, 192, 576, true)]
    [InlineData(5, 192, 192, true)]
    [InlineData(6, 32, 16, false)]
    [InlineData(7, 768, 192, true)]
    [InlineData(13, 17, 48, true)]
    [InlineData(320, 192, 768, true)]
    public void A_packed_product_sums_what_libtorch_sums(int rows, int inFeatures, int outFeatures, bool bias)
    {
        using var scope = NewDisposeScope();
        var generator = new Generator(7);
        var x = randn(rows, inFeatures, generator: generator);
        var w = randn(outFeatures, inFeatures, generator: generator) * 0.05f;
        var b = bias ? randn(outFeatures, generator: generator) : null;
        using var packed = PackedWeight.Pack(w);
        if (!PackedLinear.Supported)
        {
            Assert.Throws<PlatformNotSupportedException>(() => PackedLinear.Apply(x, packed, b));
            return;
        }
        var y = PackedLinear.Apply(x, packed, b);
        var reference = F.linear(x, w, b);
        Assert.Equal(new long[] { rows, outFeatures }, y.shape);
        float diff = (y - reference).abs().max().item<float>();
        Assert.True(diff < 1e-4f, $"max |packed - libtorch| = {diff} for [{rows}, {inFeatures}] x [{inFeatures}, {outFeatures}]");
    }

    /// <summary>A contiguous view that starts inside its storage (rows of a larger matrix) is read from its own first row.</summary>
    [Fact]
    public void A_view_into_a_larger_matrix_is_read_from_its_own_rows()
    {
        using var scope = NewDisposeScope();
        var generator = new Generator(11);
        var all = randn(20, 64, generator: generator);
        var rows = all.narrow(0, 7, 9);
        Assert.True(rows.is_contiguous());
        var w = randn(32, 64, generator: generator) * 0.05f;
        using var packed = PackedWeight.Pack(w);
        if (!PackedLinear.Supported)
        {
            Assert.Throws<PlatformNotSupportedException>(() => PackedLinear.Apply(rows, packed, null));
            return;
        }
        float diff = (PackedLinear.Apply(rows, packed, null) - F.linear(rows, w, null)).abs().max().item<float>();
        Assert.True(diff < 1e-4f, $"max |packed - libtorch| = {diff} on rows 7..15 of a larger matrix");
    }

    [Fact]
    public void It_takes_only_the_products_its_kernel_runs()
    {
        using var scope = NewDisposeScope();
        using var threads = OneThread();
        var x = randn(25, 192);
        using (no_grad())
        {
            Assert.Equal(PackedLinear.Supported, PackedLinear.Takes(x, 576));
            Assert.False(PackedLinear.Takes(x, 20), "outputs not a multiple of 16");
            Assert.False(PackedLinear.Takes(randn(1, 25, 192), 576), "3-D input");
            Assert.False(PackedLinear.Takes(randn(PackedLinear.MaxRows + 1, 192), 576), "more rows than MaxRows");
            Assert.False(PackedLinear.Takes(randn(0, 192), 576), "no rows");
            Assert.False(PackedLinear.Takes(x.to(ScalarType.Float64), 576), "float64");
            Assert.False(PackedLinear.Takes(randn(192, 25).t(), 576), "not contiguous");
            bool enabled = PackedLinear.Enabled;
            PackedLinear.Enabled = false;
            try
            {
                Assert.False(PackedLinear.Takes(x, 576), "switched off");
            }
            finally
            {
                PackedLinear.Enabled = enabled;
            }
        }
        Assert.False(PackedLinear.Takes(x, 576), "gradients enabled");
        set_num_threads(2);
        using (no_grad())
        {
            Assert.False(PackedLinear.Takes(x, 576), "two intra-op threads");
        }
    }

    [Fact]
    public void Packing_rejects_a_weight_the_kernel_cannot_run()
    {
        using var scope = NewDisposeScope();
        Assert.Contains("multiple of 16", Assert.Throws<ArgumentException>(() => PackedWeight.Pack(randn(20, 8))).Message);
        Assert.Throws<ArgumentException>(() => PackedWeight.Pack(randn(16, 8, dtype: ScalarType.Float64)));
        Assert.Throws<ArgumentException>(() => PackedWeight.Pack(randn(2, 16, 8)));
        using var packed = PackedWeight.Pack(randn(16, 8));
        Assert.Contains("8", Assert.Throws<ArgumentException>(() => PackedLinear.Apply(randn(3, 9), packed, null)).Message);
    }

    /// <summary>A layer packs its weight on first use and keeps the copy until the weights may have changed.</summary>
    [Fact]
    public void A_layer_uses_its_packed_copy_in_inference_and_repacks_after_its_weights_change()
    {
        using var scope = NewDisposeScope();
        using var threads = OneThread();
        random.manual_seed(5);
        using var layer = new LinearWeights("fc", 32, 48);
        layer.eval();
        var x = randn(9, 32);
        using var noGrad = no_grad();
        long before = PackedLinear.ProductsRun;
        var y = layer.Apply(x);
        Assert.Equal(before + (PackedLinear.Supported ? 1 : 0), PackedLinear.ProductsRun);
        Assert.True((y - F.linear(x, layer.Weight, null) - Bias(layer)).abs().max().item<float>() < 1e-5f);

        layer.Weight.add_(1f);
        layer.ClearCopies();
        var changed = layer.Apply(x);
        Assert.True((changed - F.linear(x, layer.Weight, null) - Bias(layer)).abs().max().item<float>() < 1e-4f,
            "the product used the weight packed before it changed");
    }

    /// <summary>Two inference workers asking for a weight's packed copy at once both pack it: one copy is kept for both, the
    /// other freed (no native memory left behind).</summary>
    [Fact]
    public void Workers_packing_a_weight_at_once_share_one_copy()
    {
        using var scope = NewDisposeScope();
        var weight = randn(32, 8);
        using var derived = new DerivedPacked();
        using var bothPacking = new Barrier(2);
        var copies = new PackedWeight[2];
        var threads = Enumerable.Range(0, 2).Select(i => new Thread(() => copies[i] = derived.Get(() =>
        {
            bothPacking.SignalAndWait();
            return weight;
        }))).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        Assert.Same(copies[0], copies[1]);
        Assert.Same(copies[0], derived.Get(() => throw new InvalidOperationException("packed again")));
    }

    /// <summary>
    /// The gated pass (trunk, sub-task branches on folded weights, heads) gives the same outputs with packed products as
    /// with libtorch's, frame after frame, and does run packed products.
    /// </summary>
    [Fact]
    public void The_gated_pass_computes_what_it_computes_with_libtorch_products()
    {
        using var scope = NewDisposeScope();
        using var threads = OneThread();
        using var model = ReuseTestModels.Model(hmlpStem: true, refine: true);
        using var noGrad = no_grad();
        var settings = ReuseSettings.Default;
        var a = ReuseTestModels.Frame(1);
        var frames = new[] { a, a, ReuseTestModels.WithPatchChanged(a, 2, 3, 9), ReuseTestModels.WithPatchChanged(a, 4, 1, 11) };
        bool enabled = PackedLinear.Enabled;
        try
        {
            var packed = Run(model, settings, frames, packedProducts: true, out long products);
            Assert.True(PackedLinear.Supported == products > 0, $"{products} products ran on packed weights (AVX2 and FMA: {PackedLinear.Supported})");
            var libtorch = Run(model, settings, frames, packedProducts: false, out long none);
            Assert.Equal(0, none);
            for (int f = 0; f < frames.Length; f++)
            {
                foreach (var (task, output) in packed[f])
                {
                    float diff = (output - libtorch[f][task]).abs().max().item<float>();
                    Assert.True(diff < 1e-4f, $"frame {f} {task}: max |packed - libtorch| = {diff}");
                }
            }
        }
        finally
        {
            PackedLinear.Enabled = enabled;
        }
    }

    private static List<Dictionary<VisionTask, Tensor>> Run(MultiTaskVit model, ReuseSettings settings, Tensor[] frames, bool packedProducts,
        out long products)
    {
        PackedLinear.Enabled = packedProducts;
        long before = PackedLinear.ProductsRun;
        using var state = new ReuseState(model.Config, 0);
        var outputs = new List<Dictionary<VisionTask, Tensor>>();
        for (int f = 0; f < frames.Length; f++)
        {
            string? keyframe = f == 0 ? "start" : null;
            var pass = new GatedPass(settings, new FlopCounter(), f, ReuseTestModels.Tokens, keyframe, keyframe is null ? f % settings.KeyframeInterval : null);
            var heads = model.ForwardGated(frames[f], TaskSet.All, state, pass, TaskSet.None);
            state.Advance(f, (6, 8), keyframe is not null);
            outputs.Add(heads.ToDictionary(h => h.Key, h => h.Value.TokenOutputs.clone()));
        }
        products = PackedLinear.ProductsRun - before;
        return outputs;
    }

    private static Tensor Bias(LinearWeights layer) =>
        layer.named_parameters().Single(p => p.name == "bias").parameter;

    /// <summary>One intra-op thread (the service's workers run one each) until disposed; the count is process-wide.</summary>
    private static IDisposable OneThread()
    {
        int threads = get_num_threads();
        set_num_threads(1);
        return new Restore(() => set_num_threads(threads));
    }

    private sealed class Restore(Action undo) : IDisposable
    {
        public void Dispose() => undo();
    }
}
