namespace StreamMtl.Ingest.Synthetic;

/// <summary>Everything a seed decides: room, objects, lights, camera rig and the noise table for textures.</summary>
internal sealed record Scene(Room Room, SceneObject[] Objects, Lighting Lighting, CameraRig Rig, ValueNoise Noise);
