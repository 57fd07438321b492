namespace StreamMtl.Pipeline.Results;

/// <summary>How one task's output is encoded in a result.</summary>
public enum PayloadFormat
{
    /// <summary>Segmentation: 8-bit PNG of class ids.</summary>
    PngLabels,

    /// <summary>Depth: 16-bit PNG in units of the spec's depth scale (metres per unit).</summary>
    Png16Depth,

    /// <summary>Normals: 8-bit RGB PNG, x,y,z mapped from -1..1 to 0..255.</summary>
    PngRgb8Normals,

    /// <summary>Depth or normals: raw little-endian float16, row-major, channels interleaved.</summary>
    Float16,
}
