namespace StreamMtl.Ingest.Synthetic;

/// <summary>
/// SplitMix64: a tiny generator with a fixed, documented algorithm, so a seed means the same scene on every
/// runtime version (System.Random's seeded sequence is not a compatibility promise).
/// </summary>
internal sealed class SceneRandom(ulong seed)
{
    private ulong _state = seed;

    public static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    public ulong NextULong()
    {
        _state += 0x9E3779B97F4A7C15UL;
        return Mix(_state);
    }

    /// <summary>Uniform in [0, 1).</summary>
    public float NextFloat() => (NextULong() >> 40) * (1f / (1 << 24));

    public float Range(float min, float max) => min + (max - min) * NextFloat();

    public int Next(int maxExclusive) => (int)((NextULong() >> 33) % (ulong)maxExclusive);

    public float Sign() => (NextULong() & 1) == 0 ? -1f : 1f;

    /// <summary>A random colour; any class may get any colour, so colour never gives the class away.</summary>
    public Vec3 Colour() => new(Range(0.05f, 0.95f), Range(0.05f, 0.95f), Range(0.05f, 0.95f));

    public Vec3 UnitVector()
    {
        var z = Range(-1, 1);
        var a = Range(0, 2 * MathF.PI);
        var r = MathF.Sqrt(1 - z * z);
        return new Vec3(r * MathF.Cos(a), r * MathF.Sin(a), z);
    }
}
