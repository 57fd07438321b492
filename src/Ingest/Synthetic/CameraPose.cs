namespace StreamMtl.Ingest.Synthetic;

/// <summary>
/// A pinhole camera in the synthetic room's world frame (x right, y up, z into the room). Camera space is
/// x right, y down, z forward, the convention of <see cref="Frames.FrameTruth"/>.
/// </summary>
public readonly record struct CameraPose(Vec3 Position, Vec3 Right, Vec3 Down, Vec3 Forward, float FocalPixels, float CentreX, float CentreY)
{
    /// <summary>Yaw turns right about world up; positive pitch looks down. No roll, so image columns stay vertical.</summary>
    public static CameraPose LookFrom(Vec3 position, float yaw, float pitch, float focalPixels, int width, int height)
    {
        var forward = new Vec3(MathF.Sin(yaw) * MathF.Cos(pitch), -MathF.Sin(pitch), MathF.Cos(yaw) * MathF.Cos(pitch));
        var right = new Vec3(MathF.Cos(yaw), 0, -MathF.Sin(yaw));
        var down = Vec3.Cross(right, forward);
        return new CameraPose(position, right, down, forward, focalPixels, width * 0.5f, height * 0.5f);
    }

    /// <summary>World up expressed in camera space: the ground-truth normal of the floor.</summary>
    public Vec3 UpInCamera => WorldToCameraDirection(new Vec3(0, 1, 0));

    public Vec3 WorldToCameraDirection(Vec3 world) => new(Vec3.Dot(world, Right), Vec3.Dot(world, Down), Vec3.Dot(world, Forward));

    public Vec3 CameraToWorldDirection(Vec3 cam) => Right * cam.X + Down * cam.Y + Forward * cam.Z;

    public Vec3 WorldToCamera(Vec3 point) => WorldToCameraDirection(point - Position);

    /// <summary>Pixel coordinates (continuous; pixel centres at +0.5) and camera depth of a world point.</summary>
    public (float U, float V, float Depth) Project(Vec3 world)
    {
        var c = WorldToCamera(world);
        return (CentreX + FocalPixels * c.X / c.Z, CentreY + FocalPixels * c.Y / c.Z, c.Z);
    }
}
