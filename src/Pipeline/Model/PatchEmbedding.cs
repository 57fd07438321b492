using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace StreamMtl.Pipeline.Model;

/// <summary>
/// Patch embedding as a per-patch linear map (equivalent to a stride-p convolution, stored in the
/// conv layout [D, 3, p, p] that timm/PyTorch ViT weights use), plus learned position embeddings
/// [1, rows*cols, D] interpolated bicubically to other token grids.
/// </summary>
public sealed class PatchEmbedding
{
    private readonly Parameter _weight;
    private readonly Parameter _bias;
    private readonly Parameter _pos;
    private readonly ModelConfig _config;
    private (int Rows, int Cols, Tensor Pos)? _cached;

    public PatchEmbedding(ModelConfig config)
    {
        _config = config;
        int p = config.Patch;
        _weight = nn.Parameter(empty(config.Dim, 3, p, p));
        _bias = nn.Parameter(zeros(config.Dim));
        _pos = nn.Parameter(empty(1, (long)config.PosGridRows * config.PosGridCols, config.Dim));
        using (no_grad())
        {
            TruncatedNormal.Fill(_weight, 0.02);
            TruncatedNormal.Fill(_pos, 0.02);
        }
        Module = new Group("patch_embed", ("proj", new ParameterHolder("proj", ("weight", _weight), ("bias", _bias))));
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

    /// <summary>Embeds patch vectors [.., 3*p*p] into tokens [.., D] (no position term).</summary>
    public Tensor Embed(Tensor patches) => F.linear(patches, _weight.view(_config.Dim, -1), _bias);

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
