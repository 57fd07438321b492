namespace StreamMtl.Ingest.Synthetic;

/// <summary>
/// One object and its motion. It rests on the floor, spins about the vertical axis and slides on a smooth
/// Lissajous path inside its own floor cell, so objects never interpenetrate.
/// </summary>
/// <param name="ClassId">A <see cref="SyntheticClasses"/> id (box .. capsule).</param>
/// <param name="Size">Box: half extents. Sphere: (r, r, r). Cylinder, cone, capsule: (r, half-height, r).</param>
internal sealed record SceneObject(
    byte ClassId,
    Vec3 Size,
    Texture Texture,
    float CellX,
    float CellZ,
    float AmpX,
    float AmpZ,
    float FreqX,
    float FreqZ,
    float PhaseX,
    float PhaseZ,
    float Yaw0,
    float YawRate)
{
    /// <summary>Radius of a sphere about the centre that contains the whole object (for early rejection).</summary>
    public float BoundRadius => ClassId switch
    {
        SyntheticClasses.Box => Size.Length,
        SyntheticClasses.Sphere => Size.X,
        SyntheticClasses.Capsule => Size.Y + Size.X,
        _ => MathF.Sqrt(Size.X * Size.X + Size.Y * Size.Y),
    };

    /// <summary>Half of the object's vertical extent; its centre sits this high so it rests on the floor.</summary>
    public float HalfHeight => ClassId switch
    {
        SyntheticClasses.Sphere => Size.X,
        SyntheticClasses.Capsule => Size.Y + Size.X,
        _ => Size.Y,
    };

    /// <summary>Radius of the object's footprint on the floor, whatever its yaw.</summary>
    public float FootprintRadius => ClassId == SyntheticClasses.Box ? MathF.Sqrt(Size.X * Size.X + Size.Z * Size.Z) : Size.X;

    public PlacedObject Place(float time)
    {
        var x = CellX + AmpX * MathF.Sin(FreqX * time + PhaseX);
        var z = CellZ + AmpZ * MathF.Sin(FreqZ * time + PhaseZ);
        var yaw = Yaw0 + YawRate * time;
        var radius = BoundRadius;
        return new PlacedObject(this, new Vec3(x, HalfHeight, z), MathF.Cos(yaw), MathF.Sin(yaw), radius * radius);
    }
}
