using System.Runtime.CompilerServices;

namespace StreamMtl.Ingest.Synthetic;

/// <summary>An object's pose at one instant, precomputed once per frame and shared by all rays.</summary>
internal readonly record struct PlacedObject(SceneObject Shape, Vec3 Centre, float Cos, float Sin, float BoundRadius2)
{
    /// <summary>World to local (the object is rotated by its yaw about y).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vec3 ToLocal(Vec3 w) => new(Cos * w.X - Sin * w.Z, w.Y, Sin * w.X + Cos * w.Z);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vec3 ToWorld(Vec3 l) => new(Cos * l.X + Sin * l.Z, l.Y, -Sin * l.X + Cos * l.Z);

    /// <summary>This object's intersection terms for rays from <paramref name="origin"/> (world).</summary>
    public LocalOrigin From(Vec3 origin) => new(Shape.ClassId, Shape.Size, ToLocal(origin - Centre));

    /// <summary>
    /// Narrows <paramref name="t"/> if the ray hits this object closer; <paramref name="localNormal"/> is then set.
    /// The ray starts at <paramref name="q"/>'s origin: <paramref name="oc"/> is it minus the centre,
    /// <paramref name="c"/> = oc.oc - <see cref="BoundRadius2"/>, <paramref name="a"/> = d.d.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool Hit(in LocalOrigin q, Vec3 oc, float c, Vec3 d, float a, float tMin, ref float t, ref Vec3 localNormal)
    {
        var b = Vec3.Dot(oc, d);
        var disc = b * b - a * c;
        if (disc < 0)
        {
            return false;
        }
        var sq = MathF.Sqrt(disc);
        if ((-b + sq) / a <= tMin || (-b - sq) / a >= t)
        {
            return false;
        }
        return HitShape(q, d, tMin, ref t, ref localNormal);
    }

    /// <summary>The exact test without bounding-sphere rejection, for a ray from <paramref name="q"/>'s origin.</summary>
    public bool HitShape(in LocalOrigin q, Vec3 d, float tMin, ref float t, ref Vec3 localNormal)
    {
        var ld = ToLocal(d);
        var size = Shape.Size;
        return Shape.ClassId switch
        {
            SyntheticClasses.Box => Intersect.Box(q, ld, size, tMin, ref t, ref localNormal),
            SyntheticClasses.Sphere => Intersect.Sphere(q.O, q.C, ld, tMin, ref t, ref localNormal),
            SyntheticClasses.Cylinder => Intersect.Cylinder(q, ld, size.X, size.Y, tMin, ref t, ref localNormal),
            SyntheticClasses.Cone => Intersect.Cone(q, ld, size.X, size.Y, tMin, ref t, ref localNormal),
            _ => Intersect.Capsule(q, ld, tMin, ref t, ref localNormal),
        };
    }
}
