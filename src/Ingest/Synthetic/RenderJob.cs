using System.Numerics;
using StreamMtl.Ingest.Frames;

namespace StreamMtl.Ingest.Synthetic;

/// <summary>
/// One frame's immutable render state and the per-pixel work. Everything shared by all rays (object poses,
/// screen bounds, light-to-object vectors) is computed once here, so the pixel loop allocates nothing.
/// </summary>
internal sealed class RenderJob
{
    private const float HitEpsilon = 1e-4f;
    private const float ShadowBias = 2e-3f;

    private readonly Scene _scene;
    private readonly CameraPose _pose;
    private readonly PlacedObject[] _placed;
    private readonly ScreenBounds[] _bounds;
    private readonly Vec3[] _lightToCentre;
    private readonly float[] _lightC;
    private readonly long _frameIndex;
    private readonly int _seed;
    private readonly float _noise;
    private readonly int _width;

    public RenderJob(Scene scene, CameraPose pose, float time, long frameIndex, int seed, float noise, int width, int height)
    {
        _scene = scene;
        _pose = pose;
        _frameIndex = frameIndex;
        _seed = seed;
        _noise = noise;
        _width = width;
        var count = scene.Objects.Length;
        _placed = new PlacedObject[count];
        _bounds = new ScreenBounds[count];
        _lightToCentre = new Vec3[count];
        _lightC = new float[count];
        var light = scene.Lighting.PointPosition;
        for (var i = 0; i < count; i++)
        {
            var placed = scene.Objects[i].Place(time);
            _placed[i] = placed;
            _bounds[i] = ScreenBounds.Of(pose, placed.Centre, MathF.Sqrt(placed.BoundRadius2), width, height);
            _lightToCentre[i] = light - placed.Centre;
            _lightC[i] = Vec3.Dot(_lightToCentre[i], _lightToCentre[i]) - placed.BoundRadius2;
        }
    }

    public void RenderRow(int y, Span<byte> bgr, FrameTruth? truth)
    {
        // Bit i set: object i's screen rectangle covers this row (MaxObjects fits in 32 bits). A mask rather than
        // a stackalloc'd list, because stackalloc keeps the JIT from tiering this loop up with profile data.
        var rowMask = 0u;
        for (var i = 0; i < _placed.Length; i++)
        {
            if (_bounds[i].Y0 <= y && y <= _bounds[i].Y1)
            {
                rowMask |= 1u << i;
            }
        }

        var pose = _pose;
        var origin = pose.Position;
        var room = _scene.Room;
        var v = (y + 0.5f - pose.CentreY) / pose.FocalPixels;
        var rowBase = pose.Down * v + pose.Forward;
        var invFocal = 1f / pose.FocalPixels;
        for (var x = 0; x < _width; x++)
        {
            var u = (x + 0.5f - pose.CentreX) * invFocal;
            // Camera-space direction (u, v, 1): the hit distance t along it is the camera depth.
            var d = pose.Right * u + rowBase;
            var t = room.Hit(origin, d, out var surface, out var normal);
            var hitObject = -1;
            var localNormal = default(Vec3);
            for (var mask = rowMask; mask != 0; mask &= mask - 1)
            {
                var i = BitOperations.TrailingZeroCount(mask);
                ref readonly var b = ref _bounds[i];
                if (x >= b.X0 && x <= b.X1 && _placed[i].Hit(origin, d, HitEpsilon, ref t, ref localNormal))
                {
                    hitObject = i;
                }
            }

            var p = origin + d * t;
            Vec3 albedo;
            byte label;
            if (hitObject >= 0)
            {
                ref readonly var obj = ref _placed[hitObject];
                normal = obj.ToWorld(localNormal).Normalized();
                albedo = obj.Shape.Texture.Sample(obj.ToLocal(p - obj.Centre), _scene.Noise);
                label = obj.Shape.ClassId;
            }
            else
            {
                albedo = room.Surfaces[surface].Sample(Room.SurfacePoint(surface, p), _scene.Noise);
                label = surface == Room.Floor ? SyntheticClasses.Floor : SyntheticClasses.Wall;
            }
            if (Vec3.Dot(normal, d) > 0)
            {
                normal = -normal;
            }

            var pixel = y * _width + x;
            WritePixel(bgr.Slice(x * 3, 3), albedo * Shade(p, normal), pixel);
            if (truth is not null)
            {
                truth.Labels[pixel] = label;
                truth.Depth[pixel] = t;
                var n = pose.WorldToCameraDirection(normal).Normalized();
                truth.Normals[3 * pixel] = n.X;
                truth.Normals[3 * pixel + 1] = n.Y;
                truth.Normals[3 * pixel + 2] = n.Z;
            }
        }
    }

    private Vec3 Shade(Vec3 p, Vec3 n)
    {
        var lighting = _scene.Lighting;
        var light = lighting.Ambient;
        var fill = Vec3.Dot(n, lighting.FillDirection);
        if (fill > 0)
        {
            light += lighting.FillColour * fill;
        }
        var toLight = lighting.PointPosition - p;
        var dist2 = Vec3.Dot(toLight, toLight);
        var cos = Vec3.Dot(n, toLight) / MathF.Sqrt(dist2);
        if (cos > 0 && !Shadowed(p + n * ShadowBias))
        {
            light += lighting.PointColour * (cos / (1f + Lighting.Falloff * dist2));
        }
        return light;
    }

    /// <summary>
    /// Casts from the light towards the point, so the bounding-sphere terms that depend only on the light are
    /// precomputed per frame. Objects only: the room is convex and cannot shadow itself.
    /// </summary>
    private bool Shadowed(Vec3 p)
    {
        var light = _scene.Lighting.PointPosition;
        var d = p - light;
        var a = Vec3.Dot(d, d);
        // Stop just short of the point itself so its own surface does not count.
        var tMax = 1f - ShadowBias / MathF.Sqrt(a);
        for (var i = 0; i < _placed.Length; i++)
        {
            var b = Vec3.Dot(_lightToCentre[i], d);
            var disc = b * b - a * _lightC[i];
            if (disc < 0 || (-b - MathF.Sqrt(disc)) >= a * tMax)
            {
                continue;
            }
            var t = tMax;
            var normal = default(Vec3);
            if (_placed[i].HitShape(_lightToCentre[i], d, HitEpsilon, ref t, ref normal))
            {
                return true;
            }
        }
        return false;
    }

    private void WritePixel(Span<byte> bgr, Vec3 colour, int pixel)
    {
        if (_noise <= 0)
        {
            bgr[0] = Quantise(colour.Z, 0);
            bgr[1] = Quantise(colour.Y, 0);
            bgr[2] = Quantise(colour.X, 0);
            return;
        }
        var key = SensorNoise.Key(_seed, _frameIndex, pixel);
        bgr[0] = Quantise(colour.Z, _noise * SensorNoise.Sample(key));
        bgr[1] = Quantise(colour.Y, _noise * SensorNoise.Sample(key + 1));
        bgr[2] = Quantise(colour.X, _noise * SensorNoise.Sample(key + 2));
    }

    /// <summary>Gamma 2 (sqrt) rather than sRGB's 2.2: visually close, far cheaper than pow.</summary>
    private static byte Quantise(float linear, float noise)
    {
        var v = MathF.Sqrt(Math.Clamp(linear, 0f, 1f)) * 255f + noise + 0.5f;
        return (byte)Math.Clamp((int)v, 0, 255);
    }
}
