using System.Runtime.CompilerServices;

namespace StreamMtl.Ingest.Synthetic;

/// <summary>
/// A float 3-vector with plain scalar arithmetic in a fixed order (no SIMD reassociation), so renders are
/// bit-identical however the work is scheduled. Operators are forced inline: the pixel loop is large enough
/// that the JIT's inlining budget otherwise runs out and leaves calls in the hottest code.
/// </summary>
public readonly record struct Vec3(float X, float Y, float Z)
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec3 operator +(Vec3 a, Vec3 b) => new(a.X + b.X, a.Y + b.Y, a.Z + b.Z);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec3 operator -(Vec3 a, Vec3 b) => new(a.X - b.X, a.Y - b.Y, a.Z - b.Z);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec3 operator -(Vec3 a) => new(-a.X, -a.Y, -a.Z);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec3 operator *(Vec3 a, float s) => new(a.X * s, a.Y * s, a.Z * s);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec3 operator *(Vec3 a, Vec3 b) => new(a.X * b.X, a.Y * b.Y, a.Z * b.Z);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Dot(Vec3 a, Vec3 b) => a.X * b.X + a.Y * b.Y + a.Z * b.Z;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec3 Cross(Vec3 a, Vec3 b) => new(a.Y * b.Z - a.Z * b.Y, a.Z * b.X - a.X * b.Z, a.X * b.Y - a.Y * b.X);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec3 Lerp(Vec3 a, Vec3 b, float t) => new(a.X + (b.X - a.X) * t, a.Y + (b.Y - a.Y) * t, a.Z + (b.Z - a.Z) * t);

    public float Length => MathF.Sqrt(Dot(this, this));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Vec3 Normalized()
    {
        var len = Length;
        return len > 0 ? this * (1f / len) : this;
    }
}
