namespace StreamMtl.Ingest.Synthetic;

/// <summary>
/// A ray origin in one object's local frame and the terms of that object's intersection that depend on nothing else
/// (see <see cref="Intersect"/>), each computed exactly as the per-ray code would, so a frame computes them once per
/// object for the camera and once for the light. Fields a shape does not use stay zero.
/// </summary>
internal readonly struct LocalOrigin
{
    public LocalOrigin(byte classId, Vec3 size, Vec3 o)
    {
        O = o;
        switch (classId)
        {
            case SyntheticClasses.Box:
                SlabLow = new Vec3(-size.X - o.X, -size.Y - o.Y, -size.Z - o.Z);
                SlabHigh = new Vec3(size.X - o.X, size.Y - o.Y, size.Z - o.Z);
                break;
            case SyntheticClasses.Sphere:
                C = Vec3.Dot(o, o) - size.X * size.X;
                break;
            case SyntheticClasses.Cone:
                var k = size.X / (2 * size.Y);
                K2 = k * k;
                var yo = size.Y - o.Y;
                K2Yo = K2 * yo;
                C = o.X * o.X + o.Z * o.Z - K2 * yo * yo;
                CapBottom = -size.Y - o.Y;
                break;
            default:
                // Cylinder and capsule: the side's constant term.
                C = o.X * o.X + o.Z * o.Z - size.X * size.X;
                CapTop = size.Y - o.Y;
                CapBottom = -size.Y - o.Y;
                H = size.Y;
                var top = new Vec3(0, size.Y, 0);
                OTop = o - top;
                OBottom = o + top;
                CTop = Vec3.Dot(OTop, OTop) - size.X * size.X;
                CBottom = Vec3.Dot(OBottom, OBottom) - size.X * size.X;
                break;
        }
    }

    /// <summary>The origin, local.</summary>
    public Vec3 O { get; }

    /// <summary>Box: -half - o and half - o, per axis.</summary>
    public Vec3 SlabLow { get; }

    public Vec3 SlabHigh { get; }

    /// <summary>The quadratic's constant term: sphere o.o - r^2; cylinder and capsule side o.x^2 + o.z^2 - r^2; cone its own.</summary>
    public float C { get; }

    /// <summary>Cylinder, cone: y - o.y of the caps at y = h and y = -h.</summary>
    public float CapTop { get; }

    public float CapBottom { get; }

    /// <summary>Capsule: half the height of its cylinder part.</summary>
    public float H { get; }

    /// <summary>Capsule: the origin relative to the top and bottom spheres' centres, and their constant terms.</summary>
    public Vec3 OTop { get; }

    public Vec3 OBottom { get; }

    public float CTop { get; }

    public float CBottom { get; }

    /// <summary>Cone: k^2 and k^2 (h - o.y), k = r / 2h.</summary>
    public float K2 { get; }

    public float K2Yo { get; }
}
