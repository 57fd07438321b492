namespace StreamMtl.Ingest.Synthetic;

/// <summary>
/// A cone of directions from an apex (the camera or the light), in double: unit axis, half-angle in radians, and
/// its cosine and sine. Used to rule out, conservatively, rays that cannot reach an object's bounding sphere; both
/// cones are widened by <see cref="Margin"/>, far more than the float error of the rays and of the exact tests
/// (~1e-6 rad), so a ray ruled out here would also have failed the exact test.
/// </summary>
internal readonly record struct Cone((double X, double Y, double Z) Axis, double Angle, double Cos, double Sin)
{
    public const double Margin = 1e-3;

    public static readonly Cone Everything = Of((1, 0, 0), Math.PI);

    /// <summary>Holds no direction (a tile without rays to test).</summary>
    public static readonly Cone None = new((1, 0, 0), -1, 1, 0);

    public bool Empty => Angle < 0;

    public static Cone Of((double X, double Y, double Z) axis, double angle) => new(axis, angle, Math.Cos(angle), Math.Sin(angle));

    /// <summary>The directions from <paramref name="apex"/> that meet a sphere (widened by the margin); all if the apex is inside.</summary>
    public static Cone Around(Vec3 apex, Vec3 centre, double radius)
    {
        var (axis, distance) = Direction(apex, centre);
        radius = radius * (1 + Margin) + Margin;
        return distance <= radius ? Everything : Of(axis, Math.Asin(radius / distance) + Margin);
    }

    /// <summary>The smallest cone about the mean direction that holds every direction from <paramref name="apex"/> to <paramref name="points"/>.</summary>
    public static Cone Spanning(Vec3 apex, ReadOnlySpan<Vec3> points)
    {
        if (points.IsEmpty)
        {
            return None;
        }
        double sx = 0, sy = 0, sz = 0;
        foreach (var point in points)
        {
            var (u, _) = Direction(apex, point);
            (sx, sy, sz) = (sx + u.X, sy + u.Y, sz + u.Z);
        }
        var length = Math.Sqrt(sx * sx + sy * sy + sz * sz);
        if (length < 1e-6 * points.Length)
        {
            return Everything;
        }
        var axis = (sx / length, sy / length, sz / length);
        var angle = 0.0;
        foreach (var point in points)
        {
            var (u, _) = Direction(apex, point);
            angle = Math.Max(angle, Math.Acos(Math.Clamp(u.X * axis.Item1 + u.Y * axis.Item2 + u.Z * axis.Item3, -1, 1)));
        }
        return Of(axis, angle + Margin);
    }

    /// <summary>Whether some direction lies in both: the angle between the axes is at most the sum of the half-angles.</summary>
    public bool Overlaps(in Cone other) =>
        !Empty && !other.Empty
        && (Angle + other.Angle >= Math.PI
            || Axis.X * other.Axis.X + Axis.Y * other.Axis.Y + Axis.Z * other.Axis.Z >= Cos * other.Cos - Sin * other.Sin);

    /// <summary>Bit i set: <paramref name="cones"/>[i] overlaps this cone.</summary>
    public uint Overlapping(ReadOnlySpan<Cone> cones)
    {
        var mask = 0u;
        for (var i = 0; i < cones.Length; i++)
        {
            if (Overlaps(cones[i]))
            {
                mask |= 1u << i;
            }
        }
        return mask;
    }

    private static ((double X, double Y, double Z) Unit, double Distance) Direction(Vec3 from, Vec3 to)
    {
        double x = (double)to.X - from.X, y = (double)to.Y - from.Y, z = (double)to.Z - from.Z;
        var distance = Math.Sqrt(x * x + y * y + z * z);
        return ((x / distance, y / distance, z / distance), distance);
    }
}
