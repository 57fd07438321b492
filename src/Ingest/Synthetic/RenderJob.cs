using System.Numerics;
using System.Runtime.CompilerServices;
using StreamMtl.Ingest.Frames;

namespace StreamMtl.Ingest.Synthetic;

/// <summary>
/// One frame's immutable render state and the per-pixel work. Everything shared by all rays (object poses,
/// screen bounds, light-to-object vectors) is computed once here, so the pixel loop allocates nothing.
/// A row is traced into linear levels (see <see cref="Level"/>) and then quantised with sensor noise in one pass.
/// With a <see cref="StaticBackground"/> (fixed camera) only the pixels inside objects' screen rectangles are traced,
/// and only room pixels an object's shadow may reach are shadow-tested; the rest comes from the cache, which holds
/// exactly what tracing them would give.
/// </summary>
internal sealed class RenderJob
{
    private const float HitEpsilon = 1e-4f;
    internal const float ShadowBias = 2e-3f;

    [ThreadStatic]
    private static float[]? t_levels;

    private readonly Scene _scene;
    private readonly CameraPose _pose;
    private readonly PlacedObject[] _placed;
    private readonly ScreenBounds[] _bounds;
    private readonly Vec3[] _lightToCentre;
    private readonly float[] _lightC;
    // Per object, the intersection terms of rays from the camera and from the light, and for camera rays the
    // bounding-sphere terms: the camera minus the centre, and its squared length less the squared radius.
    private readonly LocalOrigin[] _fromCamera;
    private readonly LocalOrigin[] _fromLight;
    private readonly Vec3[] _cameraToCentre;
    private readonly float[] _cameraC;
    private readonly uint _allObjects;
    private readonly ulong _noiseKey;
    private readonly float _noise;
    private readonly int _width;
    private readonly StaticBackground? _background;
    // With a background, per tile: the objects a camera ray may meet, and those that may shadow a room pixel.
    private readonly uint[]? _tileObjects;
    private readonly uint[]? _tileCasters;
    // With a background, per object: the objects that may shadow a point on it.
    private readonly uint[]? _objectCasters;

    public RenderJob(Scene scene, CameraPose pose, float time, long frameIndex, int seed, float noise, int width, int height,
        StaticBackground? background = null)
    {
        _scene = scene;
        _pose = pose;
        _noiseKey = SensorNoise.FrameKey(seed, frameIndex);
        _noise = noise;
        _width = width;
        var count = scene.Objects.Length;
        _allObjects = (uint)((1UL << count) - 1);
        _placed = new PlacedObject[count];
        _bounds = new ScreenBounds[count];
        _lightToCentre = new Vec3[count];
        _lightC = new float[count];
        _fromCamera = new LocalOrigin[count];
        _fromLight = new LocalOrigin[count];
        _cameraToCentre = new Vec3[count];
        _cameraC = new float[count];
        var light = scene.Lighting.PointPosition;
        for (var i = 0; i < count; i++)
        {
            var placed = scene.Objects[i].Place(time);
            _placed[i] = placed;
            _bounds[i] = ScreenBounds.Of(pose, placed.Centre, MathF.Sqrt(placed.BoundRadius2), width, height);
            _lightToCentre[i] = light - placed.Centre;
            _lightC[i] = Vec3.Dot(_lightToCentre[i], _lightToCentre[i]) - placed.BoundRadius2;
            _fromCamera[i] = placed.From(pose.Position);
            _fromLight[i] = placed.From(light);
            _cameraToCentre[i] = pose.Position - placed.Centre;
            _cameraC[i] = Vec3.Dot(_cameraToCentre[i], _cameraToCentre[i]) - placed.BoundRadius2;
        }
        _background = background;
        if (background is not null)
        {
            var fromCamera = new Cone[count];
            var fromLight = new Cone[count];
            _objectCasters = new uint[count];
            for (var i = 0; i < count; i++)
            {
                fromCamera[i] = Cone.Around(pose.Position, _placed[i].Centre, MathF.Sqrt(_placed[i].BoundRadius2));
                fromLight[i] = Cone.Around(light, _placed[i].Centre, MathF.Sqrt(_placed[i].BoundRadius2));
            }
            for (var i = 0; i < count; i++)
            {
                // A shadow ray ends ShadowBias off the object's surface.
                _objectCasters[i] = Cone.Around(light, _placed[i].Centre, MathF.Sqrt(_placed[i].BoundRadius2) + ShadowBias).Overlapping(fromLight);
            }
            _tileObjects = background.VisibleObjects(fromCamera, _bounds);
            _tileCasters = background.ShadowCasters(fromLight);
        }
    }

    /// <summary>
    /// The linear value a channel is quantised from: gamma 2 (sqrt) rather than sRGB's 2.2, visually close and far
    /// cheaper than pow. <see cref="SensorNoise.Quantise"/> adds the noise and rounds.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Level(float linear) => MathF.Sqrt(Math.Clamp(linear, 0f, 1f)) * 255f;

    public void RenderRow(int y, Span<byte> bgr, FrameTruth? truth)
    {
        var levels = t_levels is { } buffer && buffer.Length >= 3 * _width ? buffer : (t_levels = new float[3 * _width]);
        if (_background is null)
        {
            TraceRow(y, levels, truth);
        }
        else
        {
            ReuseRow(y, levels, truth);
        }
        SensorNoise.Quantise(levels.AsSpan(0, 3 * _width), bgr[..(3 * _width)], _noiseKey, y * _width, _noise);
    }

    /// <summary>Fills row <paramref name="y"/> of a fixed camera's cache: the empty room, lit and in shadow.</summary>
    public void BackgroundRow(int y, StaticBackground background)
    {
        var origin = _pose.Position;
        for (var x = 0; x < _width; x++)
        {
            var d = Ray(x, y);
            var t = _scene.Room.Hit(origin, d, out var surface, out var normal);
            var albedo = RoomAlbedo(origin, d, t, surface, ref normal, out var p, out var label);
            var ambientAndFill = AmbientAndFill(normal);
            var unlit = albedo * ambientAndFill;
            var receives = PointLight(p, normal, out var point);
            var pixel = y * _width + x;
            var shadowEnd = p + normal * ShadowBias;
            background.Set(pixel, receives ? albedo * (ambientAndFill + point) : unlit, unlit, receives, shadowEnd, ShadowRay.To(shadowEnd, _scene.Lighting.PointPosition));
            WriteTruth(background.Truth, pixel, label, t, normal);
        }
    }

    /// <summary>Ray-casts every pixel of the row against the room and the objects whose rectangles cover it.</summary>
    private void TraceRow(int y, Span<float> levels, FrameTruth? truth)
    {
        var rowMask = RowMask(y);
        var origin = _pose.Position;
        var room = _scene.Room;
        var rowBase = RowBase(y);
        var invFocal = 1f / _pose.FocalPixels;
        for (var x = 0; x < _width; x++)
        {
            // Camera-space direction (u, v, 1): the hit distance t along it is the camera depth.
            var d = Ray(x, rowBase, invFocal);
            var t = room.Hit(origin, d, out var surface, out var normal);
            var localNormal = default(Vec3);
            var hitObject = HitObjects(rowMask, x, d, ref t, ref localNormal);
            Vec3 colour;
            byte label;
            if (hitObject >= 0)
            {
                colour = ShadeObject(hitObject, origin, d, t, localNormal, _allObjects, out normal, out label);
            }
            else
            {
                var albedo = RoomAlbedo(origin, d, t, surface, ref normal, out var p, out label);
                colour = albedo * Shade(p, normal, _allObjects);
            }
            SetLevels(levels, x, colour);
            if (truth is not null)
            {
                WriteTruth(truth, y * _width + x, label, t, normal);
            }
        }
    }

    /// <summary>
    /// The cached room row, darkened where an object's shadow falls, with the objects traced over it. A pixel that
    /// misses the objects is room, so its cached depth is where the object tests start. Leaving out objects that the
    /// tiles' cones rule out changes nothing: their exact tests would have failed.
    /// </summary>
    private void ReuseRow(int y, Span<float> levels, FrameTruth? truth)
    {
        var background = _background!;
        var row = y * _width;
        background.Lit.AsSpan(3 * row, 3 * _width).CopyTo(levels);
        if (truth is not null)
        {
            background.Truth.Labels.AsSpan(row, _width).CopyTo(truth.Labels.AsSpan(row));
            background.Truth.Depth.AsSpan(row, _width).CopyTo(truth.Depth.AsSpan(row));
            background.Truth.Normals.AsSpan(3 * row, 3 * _width).CopyTo(truth.Normals.AsSpan(3 * row));
        }

        var tileRow = y / StaticBackground.TileSize * background.TilesX;
        for (var tile = 0; tile < background.TilesX; tile++)
        {
            var casters = _tileCasters![tileRow + tile];
            if (casters == 0)
            {
                continue;
            }
            var end = Math.Min(_width, (tile + 1) * StaticBackground.TileSize);
            for (var x = tile * StaticBackground.TileSize; x < end; x++)
            {
                if (background.Receives[row + x] && Shadowed(background.ShadowRays[row + x], casters))
                {
                    var unlit = 3 * (row + x);
                    levels[3 * x] = background.Unlit[unlit];
                    levels[3 * x + 1] = background.Unlit[unlit + 1];
                    levels[3 * x + 2] = background.Unlit[unlit + 2];
                }
            }
        }

        var rowMask = RowMask(y);
        if (rowMask == 0)
        {
            return;
        }
        var origin = _pose.Position;
        var rowBase = RowBase(y);
        var invFocal = 1f / _pose.FocalPixels;
        for (var tile = 0; tile < background.TilesX; tile++)
        {
            var objects = _tileObjects![tileRow + tile] & rowMask;
            if (objects == 0)
            {
                continue;
            }
            var end = Math.Min(_width, (tile + 1) * StaticBackground.TileSize);
            for (var x = tile * StaticBackground.TileSize; x < end; x++)
            {
                var d = Ray(x, rowBase, invFocal);
                var t = background.Truth.Depth[row + x];
                var localNormal = default(Vec3);
                var hitObject = HitObjects(objects, x, d, ref t, ref localNormal);
                if (hitObject < 0)
                {
                    continue;
                }
                var colour = ShadeObject(hitObject, origin, d, t, localNormal, _objectCasters![hitObject], out var normal, out var label);
                SetLevels(levels, x, colour);
                if (truth is not null)
                {
                    WriteTruth(truth, row + x, label, t, normal);
                }
            }
        }
    }

    /// <summary>Bit i set: object i's screen rectangle covers this row (MaxObjects fits in 32 bits).</summary>
    private uint RowMask(int y)
    {
        // A mask rather than a stackalloc'd list, because stackalloc keeps the JIT from tiering the pixel loops up
        // with profile data.
        var rowMask = 0u;
        for (var i = 0; i < _placed.Length; i++)
        {
            if (_bounds[i].Y0 <= y && y <= _bounds[i].Y1)
            {
                rowMask |= 1u << i;
            }
        }
        return rowMask;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Vec3 RowBase(int y) => _pose.Down * ((y + 0.5f - _pose.CentreY) / _pose.FocalPixels) + _pose.Forward;

    /// <summary>The camera ray through pixel (x, y), as the row loops compute it.</summary>
    public Vec3 Ray(int x, int y) => Ray(x, RowBase(y), 1f / _pose.FocalPixels);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Vec3 Ray(int x, Vec3 rowBase, float invFocal) => _pose.Right * ((x + 0.5f - _pose.CentreX) * invFocal) + rowBase;

    /// <summary>
    /// Narrows <paramref name="t"/> to the nearest object of <paramref name="rowMask"/> whose rectangle holds x; -1 if
    /// none is nearer. The ray starts at the camera.
    /// </summary>
    private int HitObjects(uint rowMask, int x, Vec3 d, ref float t, ref Vec3 localNormal)
    {
        var hitObject = -1;
        var a = Vec3.Dot(d, d);
        for (var mask = rowMask; mask != 0; mask &= mask - 1)
        {
            var i = BitOperations.TrailingZeroCount(mask);
            ref readonly var b = ref _bounds[i];
            if (x >= b.X0 && x <= b.X1 && _placed[i].Hit(_fromCamera[i], _cameraToCentre[i], _cameraC[i], d, a, HitEpsilon, ref t, ref localNormal))
            {
                hitObject = i;
            }
        }
        return hitObject;
    }

    /// <summary>Colour of a point on object i; <paramref name="casters"/> holds at least every object that may shadow it.</summary>
    private Vec3 ShadeObject(int i, Vec3 origin, Vec3 d, float t, Vec3 localNormal, uint casters, out Vec3 normal, out byte label)
    {
        var p = origin + d * t;
        ref readonly var obj = ref _placed[i];
        normal = obj.ToWorld(localNormal).Normalized();
        var albedo = obj.Shape.Texture.Sample(obj.ToLocal(p - obj.Centre), _scene.Noise);
        label = obj.Shape.ClassId;
        if (Vec3.Dot(normal, d) > 0)
        {
            normal = -normal;
        }
        return albedo * Shade(p, normal, casters);
    }

    private Vec3 RoomAlbedo(Vec3 origin, Vec3 d, float t, int surface, ref Vec3 normal, out Vec3 p, out byte label)
    {
        p = origin + d * t;
        label = surface == Room.Floor ? SyntheticClasses.Floor : SyntheticClasses.Wall;
        if (Vec3.Dot(normal, d) > 0)
        {
            normal = -normal;
        }
        return _scene.Room.Surfaces[surface].Sample(Room.SurfacePoint(surface, p), _scene.Noise);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void SetLevels(Span<float> levels, int x, Vec3 colour)
    {
        levels[3 * x] = Level(colour.Z);
        levels[3 * x + 1] = Level(colour.Y);
        levels[3 * x + 2] = Level(colour.X);
    }

    private void WriteTruth(FrameTruth truth, int pixel, byte label, float depth, Vec3 normal)
    {
        truth.Labels[pixel] = label;
        truth.Depth[pixel] = depth;
        var n = _pose.WorldToCameraDirection(normal).Normalized();
        truth.Normals[3 * pixel] = n.X;
        truth.Normals[3 * pixel + 1] = n.Y;
        truth.Normals[3 * pixel + 2] = n.Z;
    }

    private Vec3 Shade(Vec3 p, Vec3 n, uint casters)
    {
        var light = AmbientAndFill(n);
        if (PointLight(p, n, out var point) && !Shadowed(ShadowRay.To(p + n * ShadowBias, _scene.Lighting.PointPosition), casters))
        {
            light += point;
        }
        return light;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Vec3 AmbientAndFill(Vec3 n)
    {
        var lighting = _scene.Lighting;
        var light = lighting.Ambient;
        var fill = Vec3.Dot(n, lighting.FillDirection);
        if (fill > 0)
        {
            light += lighting.FillColour * fill;
        }
        return light;
    }

    /// <summary>The point light's contribution at <paramref name="p"/> if nothing blocks it; false when the surface faces away.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool PointLight(Vec3 p, Vec3 n, out Vec3 contribution)
    {
        var lighting = _scene.Lighting;
        var toLight = lighting.PointPosition - p;
        var dist2 = Vec3.Dot(toLight, toLight);
        var cos = Vec3.Dot(n, toLight) / MathF.Sqrt(dist2);
        contribution = lighting.PointColour * (cos / (1f + Lighting.Falloff * dist2));
        return cos > 0;
    }

    /// <summary>
    /// Casts from the light towards the ray's end, so the bounding-sphere terms that depend only on the light are
    /// precomputed per frame. Objects only (those of <paramref name="casters"/>): the room is convex and cannot
    /// shadow itself.
    /// </summary>
    private bool Shadowed(in ShadowRay ray, uint casters)
    {
        var d = ray.D;
        var a = ray.A;
        var reach = a * ray.TMax;
        for (var mask = casters; mask != 0; mask &= mask - 1)
        {
            var i = BitOperations.TrailingZeroCount(mask);
            var b = Vec3.Dot(_lightToCentre[i], d);
            var disc = b * b - a * _lightC[i];
            if (disc < 0 || (-b - MathF.Sqrt(disc)) >= reach)
            {
                continue;
            }
            var t = ray.TMax;
            var normal = default(Vec3);
            if (_placed[i].HitShape(_fromLight[i], d, HitEpsilon, ref t, ref normal))
            {
                return true;
            }
        }
        return false;
    }
}

/// <summary>A shadow ray from the light to a point just off a surface: its direction d (not unit), d.d, and where it stops.</summary>
internal readonly record struct ShadowRay(Vec3 D, float A, float TMax)
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ShadowRay To(Vec3 end, Vec3 light)
    {
        var d = end - light;
        var a = Vec3.Dot(d, d);
        // Stop just short of the point itself so its own surface does not count.
        return new ShadowRay(d, a, 1f - RenderJob.ShadowBias / MathF.Sqrt(a));
    }
}
