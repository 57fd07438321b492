using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace StreamMtl.Pipeline.Model;

/// <summary>
/// Patch embedding, plus learned position embeddings [1, rows*cols, D] interpolated bicubically to
/// other token grids. Two stems, both strictly per patch (a token's embedding depends on its own p x p
/// pixels only, so temporal reuse can still gate tokens independently):
/// <list type="bullet">
/// <item>linear (<see cref="ModelConfig.StemWidths"/> empty): a per-patch linear map, equivalent to a
/// stride-p convolution, stored in the conv layout [D, 3, p, p] that timm/PyTorch ViT weights use;</item>
/// <item>hierarchical MLP (hMLP, Touvron et al. 2022) for widths [c1, .., ck]: a linear map of
/// s x s sub-patches (s = p / 2^k) to c1 channels, then k merges of 2x2 neighbours, each a
/// non-overlapping kernel-2 stride-2 convolution; LayerNorm + GELU between levels. Stored as
/// patch_embed.stem.i.{weight [c_i, c_(i-1), k, k], bias, norm.weight, norm.bias} with the last
/// level as patch_embed.proj [D, c_k, 2, 2]. It gives the patch a nonlinear, edge- and
/// shading-aware code at ~25% more stem FLOPs (still ~1% of the encoder).</item>
/// </list>
/// </summary>
public sealed class PatchEmbedding
{
    private readonly Parameter _weight;
    private readonly Parameter _bias;
    private readonly Parameter _pos;
    private readonly ModelConfig _config;
    private readonly StemLevel[] _stem;
    private readonly float[] _pixelOffset;
    private (int Rows, int Cols, Tensor Pos)? _cached;

    public PatchEmbedding(ModelConfig config)
    {
        _config = config;
        int p = config.Patch;
        var widths = config.StemWidths;
        int levels = widths.Length;
        int sub = p >> levels;
        var children = new List<(string, nn.Module)>();
        _stem = new StemLevel[levels];
        for (int i = 0; i < levels; i++)
        {
            int kernel = i == 0 ? sub : 2;
            int inChannels = i == 0 ? 3 : widths[i - 1];
            string name = i.ToString(System.Globalization.CultureInfo.InvariantCulture);
            _stem[i] = new StemLevel(name, widths[i], inChannels, kernel);
            children.Add((name, _stem[i]));
        }
        int lastIn = levels == 0 ? 3 : widths[^1];
        int lastKernel = levels == 0 ? p : 2;
        _weight = nn.Parameter(empty(config.Dim, lastIn, lastKernel, lastKernel));
        _bias = nn.Parameter(zeros(config.Dim));
        _pos = nn.Parameter(empty(1, (long)config.PosGridRows * config.PosGridCols, config.Dim));
        using (no_grad())
        {
            TruncatedNormal.Fill(_weight, levels == 0 ? 0.02 : Math.Sqrt(1.0 / (lastIn * 4)));
            TruncatedNormal.Fill(_pos, 0.02);
        }
        // mean / std per patch-vector entry in (c, py, px) order (see Uncentred).
        _pixelOffset = new float[config.PatchInputs];
        for (int c = 0; c < 3; c++)
        {
            Array.Fill(_pixelOffset, config.Mean[c] / config.Std[c], c * p * p, p * p);
        }
        var proj = ("proj", (nn.Module)new ParameterHolder("proj", ("weight", _weight), ("bias", _bias)));
        Module = levels == 0
            ? new Group("patch_embed", proj)
            : new Group("patch_embed", ("stem", new Group("stem", [.. children])), proj);
    }

    /// <summary>The "patch_embed" module (proj.weight, proj.bias) for registration in the model.</summary>
    public nn.Module Module { get; }

    /// <summary>The "pos_embed" parameter for registration in the model.</summary>
    public Parameter Pos => _pos;

    /// <summary>Splits normalised images [B, 3, H, W] into patch vectors [B, h*w, 3*p*p] in (c, py, px) order.</summary>
    public Tensor Patches(Tensor images)
    {
        long b = images.shape[0];
        int p = _config.Patch;
        long rows = images.shape[2] / p;
        long cols = images.shape[3] / p;
        return images.view(b, 3, rows, p, cols, p).permute(0, 2, 4, 1, 3, 5).reshape(b, rows * cols, 3L * p * p);
    }

    /// <summary>Normalised patch vectors [.., 3*p*p] back to uncentred pixels / std (the input plus mean / std).</summary>
    public Tensor Uncentred(Tensor patches)
    {
        using var offset = tensor(_pixelOffset);
        return patches.Plus(offset);
    }

    /// <summary>Embeds patch vectors [.., 3*p*p] in (c, py, px) order into tokens [.., D] (no position term).</summary>
    public Tensor Embed(Tensor patches)
    {
        if (_stem.Length == 0)
        {
            return Autocast.Linear(patches, _weight.view(_config.Dim, -1), _bias);
        }
        var leading = patches.shape[..^1];
        int p = _config.Patch;
        int grid = 1 << _stem.Length;
        int sub = p / grid;
        // [n, 3, g, s, g, s] -> [n, g, g, 3*s*s]: each s x s sub-patch in conv (c, y, x) order.
        var x = patches.reshape(-1, 3, grid, sub, grid, sub).permute(0, 2, 4, 1, 3, 5).reshape(-1, grid, grid, 3L * sub * sub);
        for (int i = 0; i < _stem.Length; i++)
        {
            if (i > 0)
            {
                x = MergeNeighbours(x);
            }
            x = _stem[i].Apply(x);
        }
        var merged = MergeNeighbours(x).view(-1, 4L * x.shape[^1]);
        var tokens = Autocast.Linear(merged, _weight.view(_config.Dim, -1), _bias);
        return tokens.view([.. leading, _config.Dim]);
    }

    /// <summary>
    /// Embeds whole images [B, 3, H, W] into tokens [B, h*w, D]; the same values as Embed(Patches(images)).
    /// The hMLP stem runs as its strided convolutions here, which on CPU is faster than the per-patch form
    /// (one large op per level instead of permutes around thousands of small cells).
    /// </summary>
    public Tensor EmbedImage(Tensor images)
    {
        if (_stem.Length == 0)
        {
            return Embed(Patches(images));
        }
        var x = images;
        foreach (var level in _stem)
        {
            x = level.ApplyConvolution(x);
        }
        var tokens = Autocast.Conv2d(x, _weight, _bias, [2, 2]);
        return tokens.flatten(2).transpose(1, 2);
    }

    /// <summary>Counts the stem's multiply-adds for <paramref name="rows"/> embedded patches out of <paramref name="denseRows"/>.</summary>
    public void CountFlops(FlopCounter counter, VisionTask task, long rows, long denseRows)
    {
        int grid = 1 << _stem.Length;
        for (int i = 0; i < _stem.Length; i++)
        {
            long cells = (long)(grid >> i) * (grid >> i);
            counter.Linear(task, rows * cells, denseRows * cells, _stem[i].Inputs, _stem[i].Outputs);
        }
        counter.Linear(task, rows, denseRows, _weight.numel() / _config.Dim, _config.Dim);
    }

    /// <summary>[n, g, g, C] -> [n, g/2, g/2, 4C] with each 2x2 neighbourhood in conv (c, y, x) order.</summary>
    private static Tensor MergeNeighbours(Tensor x)
    {
        long n = x.shape[0];
        long g = x.shape[1] / 2;
        long c = x.shape[3];
        return x.view(n, g, 2, g, 2, c).permute(0, 1, 3, 5, 2, 4).reshape(n, g, g, 4 * c);
    }

    /// <summary>Position embeddings for a token grid, [1, rows*cols, D]; cached per grid outside training.</summary>
    public Tensor Positions(int rows, int cols, bool training)
    {
        if (rows == _config.PosGridRows && cols == _config.PosGridCols)
        {
            return _pos;
        }
        bool cacheable = !training && !is_grad_enabled();
        if (cacheable && _cached is { } c && c.Rows == rows && c.Cols == cols)
        {
            return c.Pos;
        }
        var grid = _pos.view(1, _config.PosGridRows, _config.PosGridCols, _config.Dim).permute(0, 3, 1, 2);
        var resized = F.interpolate(grid, [rows, cols], mode: InterpolationMode.Bicubic, align_corners: false)
            .permute(0, 2, 3, 1).reshape(1, (long)rows * cols, _config.Dim);
        if (cacheable)
        {
            _cached?.Pos.Dispose();
            var kept = resized.detach().DetachFromDisposeScope();
            _cached = (rows, cols, kept);
            return kept;
        }
        return resized;
    }

    /// <summary>The trained position embeddings of a window of the grid, [1, rows*cols, D].</summary>
    public Tensor WindowPositions(int row, int col, int rows, int cols)
    {
        if (row < 0 || col < 0 || row + rows > _config.PosGridRows || col + cols > _config.PosGridCols)
        {
            throw new ArgumentOutOfRangeException(nameof(row), $"window {rows}x{cols} at ({row},{col}) is outside the {_config.PosGridRows}x{_config.PosGridCols} position grid");
        }
        return _pos.view(1, _config.PosGridRows, _config.PosGridCols, _config.Dim)
            .narrow(1, row, rows).narrow(2, col, cols).reshape(1, (long)rows * cols, _config.Dim);
    }

    /// <summary>Drops the interpolation cache (after loading new weights).</summary>
    public void ClearCache()
    {
        _cached?.Pos.Dispose();
        _cached = null;
    }
}

/// <summary>One hMLP stem level: a kernel = stride convolution applied as a linear map of each cell's inputs, LayerNorm, GELU.</summary>
internal sealed class StemLevel : nn.Module
{
    private readonly Parameter _weight;
    private readonly Parameter _bias;
    private readonly NormWeights _norm;

    public StemLevel(string name, int outChannels, int inChannels, int kernel) : base(name)
    {
        Inputs = (long)inChannels * kernel * kernel;
        Outputs = outChannels;
        _weight = nn.Parameter(empty(outChannels, inChannels, kernel, kernel));
        _bias = nn.Parameter(zeros(outChannels));
        using (no_grad())
        {
            TruncatedNormal.Fill(_weight, Math.Sqrt(1.0 / Inputs));
        }
        _norm = new NormWeights("norm", outChannels);
        register_parameter("weight", _weight);
        register_parameter("bias", _bias);
        register_module("norm", _norm);
    }

    public long Inputs { get; }

    public long Outputs { get; }

    /// <summary>[.., Inputs] -> [.., Outputs].</summary>
    public Tensor Apply(Tensor x) => F.gelu(_norm.Apply(Autocast.Linear(x, _weight.view(Outputs, Inputs), _bias)));

    /// <summary>The same level on feature maps [B, C, H, W] -> [B, Outputs, H/k, W/k] (a kernel = stride convolution).</summary>
    public Tensor ApplyConvolution(Tensor x)
    {
        long k = _weight.shape[2];
        var y = Autocast.Conv2d(x, _weight, _bias, [k, k]).permute(0, 2, 3, 1);
        return F.gelu(_norm.Apply(y)).permute(0, 3, 1, 2);
    }
}

/// <summary>A module that only owns named parameters.</summary>
public sealed class ParameterHolder : nn.Module
{
    public ParameterHolder(string name, params (string Name, Parameter Value)[] parameters) : base(name)
    {
        foreach (var (parameterName, value) in parameters)
        {
            register_parameter(parameterName, value);
        }
    }
}
