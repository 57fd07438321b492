namespace StreamMtl.Ingest.Synthetic;

/// <summary>
/// A conservative pixel rectangle that contains an object's projection, so most pixels reject most objects
/// with four integer compares instead of a ray-sphere test.
/// </summary>
internal readonly record struct ScreenBounds(int X0, int X1, int Y0, int Y1)
{
    public static ScreenBounds Of(CameraPose pose, Vec3 centre, float radius, int width, int height)
    {
        var c = pose.WorldToCamera(centre);
        var near = c.Z - radius;
        if (near < 0.05f)
        {
            // Straddles or is behind the camera plane: projection is unbounded, test every pixel.
            return new ScreenBounds(0, width - 1, 0, height - 1);
        }
        var far = c.Z + radius;
        // The camera-axis-aligned cube around the sphere contains it; x / z over its corners bounds the projection.
        var uMin = MathF.Min((c.X - radius) / near, (c.X - radius) / far);
        var uMax = MathF.Max((c.X + radius) / near, (c.X + radius) / far);
        var vMin = MathF.Min((c.Y - radius) / near, (c.Y - radius) / far);
        var vMax = MathF.Max((c.Y + radius) / near, (c.Y + radius) / far);
        return new ScreenBounds(
            Clamp(MathF.Floor(pose.CentreX + pose.FocalPixels * uMin) - 1, width),
            Clamp(MathF.Ceiling(pose.CentreX + pose.FocalPixels * uMax) + 1, width),
            Clamp(MathF.Floor(pose.CentreY + pose.FocalPixels * vMin) - 1, height),
            Clamp(MathF.Ceiling(pose.CentreY + pose.FocalPixels * vMax) + 1, height));
    }

    private static int Clamp(float v, int size) => (int)Math.Clamp(v, -1f, size);
}
