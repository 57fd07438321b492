namespace StreamMtl.Ingest.Synthetic;

/// <summary>
/// Analytic ray-primitive intersection in the primitive's local frame (centred at the origin, axis = y).
/// Each test narrows <c>t</c> and sets the (unnormalised, outward) normal only for a hit in (tMin, t),
/// so callers can run all tests against the best hit so far. Rays need not be unit length. Every ray of a frame
/// starts at one of two points (the camera, the light), so the terms that depend only on the ray's origin come
/// precomputed in a <see cref="LocalOrigin"/>, each by the same operations in the same order as inline, so the
/// results are bit for bit those of computing them per ray.
/// </summary>
internal static class Intersect
{
    public static bool Box(in LocalOrigin q, Vec3 d, Vec3 half, float tMin, ref float t, ref Vec3 normal)
    {
        float near = float.NegativeInfinity, far = float.PositiveInfinity;
        var axis = 0;
        var o = q.O;
        if (!Slab(o.X, d.X, half.X, q.SlabLow.X, q.SlabHigh.X, 0, ref near, ref far, ref axis)
            || !Slab(o.Y, d.Y, half.Y, q.SlabLow.Y, q.SlabHigh.Y, 1, ref near, ref far, ref axis)
            || !Slab(o.Z, d.Z, half.Z, q.SlabLow.Z, q.SlabHigh.Z, 2, ref near, ref far, ref axis))
        {
            return false;
        }
        if (near > far || near <= tMin || near >= t)
        {
            return false;
        }
        t = near;
        normal = axis switch
        {
            0 => new Vec3(-MathF.Sign(d.X), 0, 0),
            1 => new Vec3(0, -MathF.Sign(d.Y), 0),
            _ => new Vec3(0, 0, -MathF.Sign(d.Z)),
        };
        return true;
    }

    /// <summary><paramref name="low"/> and <paramref name="high"/>: -h - o and h - o.</summary>
    private static bool Slab(float o, float d, float h, float low, float high, int axisId, ref float near, ref float far, ref int axis)
    {
        if (d == 0)
        {
            return o >= -h && o <= h;
        }
        var inv = 1f / d;
        var t1 = low * inv;
        var t2 = high * inv;
        if (t1 > t2)
        {
            (t1, t2) = (t2, t1);
        }
        if (t1 > near)
        {
            near = t1;
            axis = axisId;
        }
        if (t2 < far)
        {
            far = t2;
        }
        return true;
    }

    /// <summary>Sphere of radius r about the origin, seen from <paramref name="o"/>; <paramref name="c"/> = o.o - r^2.</summary>
    public static bool Sphere(Vec3 o, float c, Vec3 d, float tMin, ref float t, ref Vec3 normal)
    {
        var a = Vec3.Dot(d, d);
        var b = Vec3.Dot(o, d);
        var disc = b * b - a * c;
        if (disc < 0)
        {
            return false;
        }
        var hit = (-b - MathF.Sqrt(disc)) / a;
        if (hit <= tMin || hit >= t)
        {
            return false;
        }
        t = hit;
        normal = o + d * hit;
        return true;
    }

    /// <summary>Capped cylinder of radius r spanning y in [-h, h].</summary>
    public static bool Cylinder(in LocalOrigin q, Vec3 d, float r, float h, float tMin, ref float t, ref Vec3 normal)
    {
        var found = Side(q.O, q.C, d, h, tMin, ref t, ref normal);
        found |= Cap(q.O, d, r, h, q.CapTop, tMin, ref t, ref normal);
        found |= Cap(q.O, d, r, -h, q.CapBottom, tMin, ref t, ref normal);
        return found;
    }

    /// <summary>Capsule: a cylinder of radius r over y in [-h, h] with hemispherical ends.</summary>
    public static bool Capsule(in LocalOrigin q, Vec3 d, float tMin, ref float t, ref Vec3 normal)
    {
        var found = Side(q.O, q.C, d, q.H, tMin, ref t, ref normal);
        if (Sphere(q.OTop, q.CTop, d, tMin, ref t, ref normal))
        {
            found = true;
        }
        if (Sphere(q.OBottom, q.CBottom, d, tMin, ref t, ref normal))
        {
            found = true;
        }
        return found;
    }

    /// <summary>Cone with its apex at y = h and a capped base of radius r at y = -h.</summary>
    public static bool Cone(in LocalOrigin q, Vec3 d, float r, float h, float tMin, ref float t, ref Vec3 normal)
    {
        var o = q.O;
        var found = Cap(o, d, r, -h, q.CapBottom, tMin, ref t, ref normal);
        // x^2 + z^2 = k^2 (h - y)^2 with k = r / 2h.
        var k2 = q.K2;
        var yd = -d.Y;
        var a = d.X * d.X + d.Z * d.Z - k2 * yd * yd;
        var b = o.X * d.X + o.Z * d.Z - q.K2Yo * yd;
        var c = q.C;
        if (MathF.Abs(a) < 1e-9f)
        {
            return found;
        }
        var disc = b * b - a * c;
        if (disc < 0)
        {
            return found;
        }
        var sq = MathF.Sqrt(disc);
        var r1 = (-b - sq) / a;
        var r2 = (-b + sq) / a;
        if (r1 > r2)
        {
            (r1, r2) = (r2, r1);
        }
        return ConeRoot(o, d, h, k2, r1, tMin, ref t, ref normal) || ConeRoot(o, d, h, k2, r2, tMin, ref t, ref normal) || found;
    }

    private static bool ConeRoot(Vec3 o, Vec3 d, float h, float k2, float root, float tMin, ref float t, ref Vec3 normal)
    {
        if (root <= tMin || root >= t)
        {
            return false;
        }
        var y = o.Y + d.Y * root;
        if (y < -h || y > h)
        {
            return false;
        }
        var p = o + d * root;
        t = root;
        normal = new Vec3(p.X, k2 * (h - y), p.Z);
        return true;
    }

    /// <summary><paramref name="c"/> = o.x^2 + o.z^2 - r^2.</summary>
    private static bool Side(Vec3 o, float c, Vec3 d, float h, float tMin, ref float t, ref Vec3 normal)
    {
        var a = d.X * d.X + d.Z * d.Z;
        if (a < 1e-12f)
        {
            return false;
        }
        var b = o.X * d.X + o.Z * d.Z;
        var disc = b * b - a * c;
        if (disc < 0)
        {
            return false;
        }
        var hit = (-b - MathF.Sqrt(disc)) / a;
        if (hit <= tMin || hit >= t)
        {
            return false;
        }
        var y = o.Y + d.Y * hit;
        if (y < -h || y > h)
        {
            return false;
        }
        t = hit;
        normal = new Vec3(o.X + d.X * hit, 0, o.Z + d.Z * hit);
        return true;
    }

    /// <summary>The disc of radius r at height y; <paramref name="rise"/> = y - o.y.</summary>
    private static bool Cap(Vec3 o, Vec3 d, float r, float y, float rise, float tMin, ref float t, ref Vec3 normal)
    {
        if (d.Y == 0)
        {
            return false;
        }
        var hit = rise / d.Y;
        if (hit <= tMin || hit >= t)
        {
            return false;
        }
        var x = o.X + d.X * hit;
        var z = o.Z + d.Z * hit;
        if (x * x + z * z > r * r)
        {
            return false;
        }
        t = hit;
        normal = new Vec3(0, MathF.Sign(y), 0);
        return true;
    }
}
