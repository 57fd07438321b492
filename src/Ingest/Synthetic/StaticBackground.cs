using StreamMtl.Ingest.Frames;

namespace StreamMtl.Ingest.Synthetic;

/// <summary>
/// What a fixed camera sees of the empty room, computed once by the same code that traces a frame: per pixel the
/// levels with the point light reaching it and blocked, the shadow ray's end, and the room's ground truth. A frame
/// then traces only the objects and shadow-tests only the room pixels an object's shadow may reach; per tile of
/// <see cref="TileSize"/> pixels, two cones (of the tile's camera rays, and of the light's rays to its shadow-ray
/// ends) rule out the objects that cannot be seen or cast a shadow there. About 62 bytes a pixel (4.5 MiB at 320x240).
/// </summary>
internal sealed class StaticBackground
{
    /// <summary>Tile side in pixels; equal to the camera's rows per band, so a band covers one row of tiles.</summary>
    public const int TileSize = 8;

    private readonly Cone[] _viewTiles;
    private readonly Cone[] _lightTiles;
    private Vec3[]? _shadowEnds;

    private StaticBackground(int width, int height)
    {
        var n = width * height;
        Width = width;
        Lit = new float[3 * n];
        Unlit = new float[3 * n];
        Receives = new bool[n];
        _shadowEnds = new Vec3[n];
        ShadowRays = new ShadowRay[n];
        Truth = new FrameTruth(width, height, new byte[n], new float[n], new float[3 * n]);
        TilesX = (width + TileSize - 1) / TileSize;
        TilesY = (height + TileSize - 1) / TileSize;
        _viewTiles = new Cone[TilesX * TilesY];
        _lightTiles = new Cone[TilesX * TilesY];
    }

    public int Width { get; }

    /// <summary><see cref="RenderJob.Level"/>s, B G R per pixel, when the point light reaches the pixel.</summary>
    public float[] Lit { get; }

    /// <summary>The same when an object blocks the point light (equal to <see cref="Lit"/> where the room faces away).</summary>
    public float[] Unlit { get; }

    /// <summary>Faces the point light, so an object's shadow can fall on it.</summary>
    public bool[] Receives { get; }

    /// <summary>The pixel's shadow ray from the light, ending at the room point nudged off the surface, for receivers.</summary>
    public ShadowRay[] ShadowRays { get; }

    /// <summary>Labels, depth and normals of the empty room.</summary>
    public FrameTruth Truth { get; }

    public int TilesX { get; }

    public int TilesY { get; }

    public static StaticBackground Build(Scene scene, CameraPose pose, int width, int height, int maxDegreeOfParallelism)
    {
        var background = new StaticBackground(width, height);
        var job = new RenderJob(scene, pose, 0f, 0, 0, 0f, width, height);
        var options = new ParallelOptions { MaxDegreeOfParallelism = maxDegreeOfParallelism };
        Parallel.For(0, height, options, y => job.BackgroundRow(y, background));
        Parallel.For(0, background._viewTiles.Length, options, tile => background.BuildTile(tile, job, scene.Lighting.PointPosition));
        // The ends only shape the tiles' light cones; frames use the rays.
        background._shadowEnds = null;
        return background;
    }

    public void Set(int pixel, Vec3 lit, Vec3 unlit, bool receives, Vec3 shadowEnd, ShadowRay shadowRay)
    {
        Lit[3 * pixel] = RenderJob.Level(lit.Z);
        Lit[3 * pixel + 1] = RenderJob.Level(lit.Y);
        Lit[3 * pixel + 2] = RenderJob.Level(lit.X);
        Unlit[3 * pixel] = RenderJob.Level(unlit.Z);
        Unlit[3 * pixel + 1] = RenderJob.Level(unlit.Y);
        Unlit[3 * pixel + 2] = RenderJob.Level(unlit.X);
        Receives[pixel] = receives;
        _shadowEnds![pixel] = shadowEnd;
        ShadowRays[pixel] = shadowRay;
    }

    /// <summary>Per tile, bit i set: object i (<paramref name="fromLight"/>: its bounding cone from the light) may shadow a receiver there.</summary>
    public uint[] ShadowCasters(ReadOnlySpan<Cone> fromLight)
    {
        var casters = new uint[_lightTiles.Length];
        for (var tile = 0; tile < casters.Length; tile++)
        {
            casters[tile] = _lightTiles[tile].Overlapping(fromLight);
        }
        return casters;
    }

    /// <summary>
    /// Per tile, bit i set: a camera ray of the tile may meet object i (<paramref name="fromCamera"/>: its bounding
    /// cone from the camera). Only tiles that meet the object's screen rectangle are tested; the rest stay clear.
    /// </summary>
    public uint[] VisibleObjects(ReadOnlySpan<Cone> fromCamera, ReadOnlySpan<ScreenBounds> bounds)
    {
        var visible = new uint[_viewTiles.Length];
        for (var i = 0; i < fromCamera.Length; i++)
        {
            var b = bounds[i];
            int tx1 = Math.Min(TilesX - 1, b.X1 / TileSize), ty1 = Math.Min(TilesY - 1, b.Y1 / TileSize);
            for (var ty = Math.Max(0, b.Y0) / TileSize; ty <= ty1; ty++)
            {
                for (var tx = Math.Max(0, b.X0) / TileSize; tx <= tx1; tx++)
                {
                    if (_viewTiles[ty * TilesX + tx].Overlaps(fromCamera[i]))
                    {
                        visible[ty * TilesX + tx] |= 1u << i;
                    }
                }
            }
        }
        return visible;
    }

    private void BuildTile(int tile, RenderJob job, Vec3 light)
    {
        int x0 = tile % TilesX * TileSize, y0 = tile / TilesX * TileSize;
        int x1 = Math.Min(Width, x0 + TileSize), y1 = Math.Min(Truth.Height, y0 + TileSize);
        var rays = new Vec3[TileSize * TileSize];
        var ends = new Vec3[TileSize * TileSize];
        int count = 0, receivers = 0;
        for (var y = y0; y < y1; y++)
        {
            for (var x = x0; x < x1; x++)
            {
                rays[count++] = job.Ray(x, y);
                if (Receives[y * Width + x])
                {
                    ends[receivers++] = _shadowEnds![y * Width + x];
                }
            }
        }
        _viewTiles[tile] = Cone.Spanning(default, rays.AsSpan(0, count));
        _lightTiles[tile] = Cone.Spanning(light, ends.AsSpan(0, receivers));
    }
}
