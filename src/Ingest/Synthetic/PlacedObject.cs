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

    /// <summary>Narrows <paramref name="t"/> if the ray hits this object closer; <paramref name="localNormal"/> is then set.</summary>
    public bool Hit(Vec3 o, Vec3 d, float tMin, ref float t, ref Vec3 localNormal)
    {
        var oc = o - Centre;
        var a = Vec3.Dot(d, d);
        var b = Vec3.Dot(oc, d);
        var c = Vec3.Dot(oc, oc) - BoundRadius2;
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
        return HitShape(oc, d, tMin, ref t, ref localNormal);
    }

    /// <summary>The exact test without bounding-sphere rejection; <paramref name="oc"/> is the ray origin minus the centre.</summary>
    public bool HitShape(Vec3 oc, Vec3 d, float tMin, ref float t, ref Vec3 localNormal)
    {
        var lo = ToLocal(oc);
        var ld = ToLocal(d);
        var size = Shape.Size;
        return Shape.ClassId switch
        {
            SyntheticClasses.Box => Intersect.Box(lo, ld, size, tMin, ref t, ref localNormal),
            SyntheticClasses.Sphere => Intersect.Sphere(lo, ld, size.X, tMin, ref t, ref localNormal),
            SyntheticClasses.Cylinder => Intersect.Cylinder(lo, ld, size.X, size.Y, tMin, ref t, ref localNormal),
            SyntheticClasses.Cone => Intersect.Cone(lo, ld, size.X, size.Y, tMin, ref t, ref localNormal),
            _ => Intersect.Capsule(lo, ld, size.X, size.Y, tMin, ref t, ref localNormal),
        };
    }
}
