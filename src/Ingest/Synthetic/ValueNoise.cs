namespace StreamMtl.Ingest.Synthetic;

/// <summary>Lattice value noise from a seeded table, for marble and blotch textures.</summary>
internal sealed class ValueNoise
{
    private readonly byte[] _perm = new byte[512];
    private readonly float[] _values = new float[256];

    public ValueNoise(SceneRandom random)
    {
        for (var i = 0; i < 256; i++)
        {
            _perm[i] = (byte)i;
            _values[i] = random.NextFloat();
        }
        for (var i = 255; i > 0; i--)
        {
            var j = random.Next(i + 1);
            (_perm[i], _perm[j]) = (_perm[j], _perm[i]);
        }
        Array.Copy(_perm, 0, _perm, 256, 256);
    }

    /// <summary>Smooth noise in [0, 1).</summary>
    public float Sample(Vec3 p)
    {
        var fx = MathF.Floor(p.X);
        var fy = MathF.Floor(p.Y);
        var fz = MathF.Floor(p.Z);
        var x = (int)fx & 255;
        var y = (int)fy & 255;
        var z = (int)fz & 255;
        var tx = Smooth(p.X - fx);
        var ty = Smooth(p.Y - fy);
        var tz = Smooth(p.Z - fz);
        var perm = _perm;
        int a = perm[x] + y, b = perm[x + 1] + y;
        int aa = perm[a] + z, ab = perm[a + 1] + z, ba = perm[b] + z, bb = perm[b + 1] + z;
        var v = _values;
        var x00 = Lerp(v[perm[aa]], v[perm[ba]], tx);
        var x10 = Lerp(v[perm[ab]], v[perm[bb]], tx);
        var x01 = Lerp(v[perm[aa + 1]], v[perm[ba + 1]], tx);
        var x11 = Lerp(v[perm[ab + 1]], v[perm[bb + 1]], tx);
        return Lerp(Lerp(x00, x10, ty), Lerp(x01, x11, ty), tz);
    }

    /// <summary>Two octaves: enough structure for marble veins at a quarter of four octaves' cost.</summary>
    public float Fractal(Vec3 p) => (Sample(p) * 2f + Sample(p * 2.03f + new Vec3(17.1f, 5.3f, 9.7f))) * (1f / 3f);

    private static float Smooth(float t) => t * t * (3f - 2f * t);

    private static float Lerp(float a, float b, float t) => a + (b - a) * t;
}
