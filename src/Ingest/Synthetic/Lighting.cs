namespace StreamMtl.Ingest.Synthetic;

/// <summary>Ambient light, one shadow-casting point light near the ceiling and one unshadowed directional fill.</summary>
/// <param name="FillDirection">Unit vector towards the fill light.</param>
internal sealed record Lighting(Vec3 Ambient, Vec3 PointPosition, Vec3 PointColour, Vec3 FillDirection, Vec3 FillColour)
{
    /// <summary>Inverse-square-like falloff, softened so the far wall is not black.</summary>
    public const float Falloff = 0.04f;
}
