namespace StreamMtl.Ingest.Synthetic;

/// <summary>The camera's rest pose and, for <see cref="SyntheticMode.Moving"/>, its smooth dolly/pan/bob motion.</summary>
internal sealed record CameraRig(Vec3 Rest, float Yaw, float Pitch, float HorizontalFov, bool Moving, float Phase)
{
    public CameraPose PoseAt(float time, int width, int height)
    {
        var focal = width * 0.5f / MathF.Tan(HorizontalFov * 0.5f);
        if (!Moving)
        {
            return CameraPose.LookFrom(Rest, Yaw, Pitch, focal, width, height);
        }
        // Incommensurate frequencies so the path does not visibly repeat; ~0.3 m/s and ~4 deg/s at most.
        var position = Rest + new Vec3(
            0.8f * MathF.Sin(0.35f * time + Phase),
            0.12f * MathF.Sin(0.4f * time + 2.1f * Phase),
            0.35f * MathF.Sin(0.18f * time + 1.3f * Phase));
        var yaw = Yaw + 0.3f * MathF.Sin(0.23f * time + 0.7f * Phase);
        var pitch = Pitch + 0.05f * MathF.Sin(0.3f * time + 1.9f * Phase);
        return CameraPose.LookFrom(position, yaw, pitch, focal, width, height);
    }
}
