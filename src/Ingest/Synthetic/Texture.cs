namespace StreamMtl.Ingest.Synthetic;

/// <summary>Procedural pattern families; every class draws from all of them.</summary>
internal enum TextureKind
{
    Checker,
    Stripes,
    Marble,
    Blotches,
}

/// <summary>A solid (3D) procedural texture: two colours mixed by a pattern evaluated at a surface point.</summary>
internal readonly record struct Texture(TextureKind Kind, Vec3 ColourA, Vec3 ColourB, float Scale, Vec3 Direction, Vec3 Offset)
{
    public static Texture Random(SceneRandom random, float minScale, float maxScale)
    {
        var kind = (TextureKind)random.Next(4);
        var a = random.Colour();
        var b = random.Colour();
        // Keep some contrast so patterns are visible, but allow any hue pair.
        if (MathF.Abs(Vec3.Dot(a - b, new Vec3(0.3f, 0.59f, 0.11f))) < 0.15f)
        {
            b = b * 0.4f;
        }
        var offset = new Vec3(random.Range(0, 10), random.Range(0, 10), random.Range(0, 10));
        return new Texture(kind, a, b, random.Range(minScale, maxScale), random.UnitVector(), offset);
    }

    /// <summary>Albedo (RGB, 0..1) at point <paramref name="p"/> in the surface's own frame.</summary>
    public Vec3 Sample(Vec3 p, ValueNoise noise)
    {
        var q = (p + Offset) * Scale;
        float mix;
        switch (Kind)
        {
            case TextureKind.Checker:
                mix = (((int)MathF.Floor(q.X) + (int)MathF.Floor(q.Y) + (int)MathF.Floor(q.Z)) & 1) == 0 ? 0f : 1f;
                break;
            case TextureKind.Stripes:
                var s = Vec3.Dot(q, Direction);
                mix = s - MathF.Floor(s) < 0.5f ? 0f : 1f;
                break;
            case TextureKind.Marble:
                mix = 0.5f + 0.5f * MathF.Sin(Vec3.Dot(q, Direction) * 3f + 6f * noise.Fractal(q));
                break;
            default:
                var n = noise.Fractal(q * 1.5f);
                mix = Math.Clamp((n - 0.4f) * 5f, 0f, 1f);
                break;
        }
        return Vec3.Lerp(ColourA, ColourB, mix);
    }
}
