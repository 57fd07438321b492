using System.Runtime.CompilerServices;

namespace StreamMtl.Ingest.Synthetic;

/// <summary>
/// The closed box the scene lives in: floor at y = 0, ceiling at <see cref="Height"/>, four walls. Closed, so
/// every camera ray hits something and every pixel has ground truth.
/// </summary>
/// <param name="Surfaces">Textures of floor, ceiling, left, right, near and far wall, in that order.</param>
internal sealed record Room(float MinX, float MaxX, float Height, float MinZ, float MaxZ, Texture[] Surfaces)
{
    public const int Floor = 0;

    /// <summary>Exit distance of a ray that starts inside the room, with the surface it leaves through.</summary>
    public float Hit(Vec3 o, Vec3 d, out int surface, out Vec3 normal)
    {
        var t = float.PositiveInfinity;
        surface = Floor;
        normal = new Vec3(0, 1, 0);
        if (d.Y < 0)
        {
            t = -o.Y / d.Y;
        }
        else if (d.Y > 0)
        {
            t = (Height - o.Y) / d.Y;
            surface = 1;
            normal = new Vec3(0, -1, 0);
        }
        if (d.X < 0 && (MinX - o.X) / d.X is var tl && tl < t)
        {
            t = tl;
            surface = 2;
            normal = new Vec3(1, 0, 0);
        }
        else if (d.X > 0 && (MaxX - o.X) / d.X is var tr && tr < t)
        {
            t = tr;
            surface = 3;
            normal = new Vec3(-1, 0, 0);
        }
        if (d.Z < 0 && (MinZ - o.Z) / d.Z is var tn && tn < t)
        {
            t = tn;
            surface = 4;
            normal = new Vec3(0, 0, 1);
        }
        else if (d.Z > 0 && (MaxZ - o.Z) / d.Z is var tf && tf < t)
        {
            t = tf;
            surface = 5;
            normal = new Vec3(0, 0, -1);
        }
        return t;
    }

    /// <summary>
    /// Texture coordinates on a surface: the coordinate along the normal is replaced by a constant, because
    /// its float error at the plane would make checker cells flicker.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vec3 SurfacePoint(int surface, Vec3 p) => surface switch
    {
        0 or 1 => new Vec3(p.X, 0.37f, p.Z),
        2 or 3 => new Vec3(p.Z, p.Y, 0.37f),
        _ => new Vec3(p.X, p.Y, 0.37f),
    };
}
