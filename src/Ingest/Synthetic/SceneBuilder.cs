namespace StreamMtl.Ingest.Synthetic;

/// <summary>Builds a random but seed-determined scene that the camera can see well.</summary>
internal static class SceneBuilder
{
    // Objects live between these depths in front of the camera's rest position (the camera dollies +-0.35 m).
    private const float NearZ = 2.6f;
    private const float FarZ = 8.3f;

    public static Scene Build(SyntheticSpec spec)
    {
        var random = new SceneRandom(SceneRandom.Mix((ulong)(uint)spec.Seed ^ 0x5EED_0F_5CE7E5UL));
        var width = random.Range(6f, 10f);
        var depth = random.Range(10f, 13f);
        var height = random.Range(2.7f, 3.6f);
        const float behind = 1.2f;
        var surfaces = new Texture[6];
        for (var i = 0; i < surfaces.Length; i++)
        {
            surfaces[i] = Texture.Random(random, 0.8f, 3f);
        }
        var room = new Room(-width / 2, width / 2, height, -behind, depth - behind, surfaces);

        var rig = new CameraRig(
            new Vec3(random.Range(-0.5f, 0.5f), random.Range(1.55f, 2.45f), 0),
            random.Range(-0.12f, 0.12f),
            random.Range(0.12f, 0.35f),
            random.Range(60f, 70f) * MathF.PI / 180f,
            spec.Mode == SyntheticMode.Moving,
            random.Range(0, 2 * MathF.PI));

        var objects = PlaceObjects(spec.Objects, room, rig, random);

        var ambientLevel = random.Range(0.12f, 0.28f);
        var lighting = new Lighting(
            Tint(random) * ambientLevel,
            new Vec3(random.Range(room.MinX + 1, room.MaxX - 1), height - 0.2f, random.Range(1f, 7f)),
            Tint(random) * random.Range(0.8f, 1.4f),
            new Vec3(random.Range(-0.6f, 0.6f), 1, random.Range(-0.8f, 0.3f)).Normalized(),
            Tint(random) * random.Range(0.15f, 0.45f));

        return new Scene(room, objects, lighting, rig, new ValueNoise(random));
    }

    private static Vec3 Tint(SceneRandom random) => new(random.Range(0.85f, 1f), random.Range(0.85f, 1f), random.Range(0.85f, 1f));

    /// <summary>
    /// Splits the floor in front of the camera into a grid of cells (two columns) and gives every object its own
    /// cell to move in: cheap, and objects never interpenetrate. Classes are dealt round-robin from a random
    /// start, so with five or more objects every object class is in every scene.
    /// </summary>
    private static SceneObject[] PlaceObjects(int count, Room room, CameraRig rig, SceneRandom random)
    {
        if (count == 0)
        {
            return [];
        }
        var cols = count >= 2 ? 2 : 1;
        var rows = (count + cols - 1) / cols;
        var far = MathF.Min(FarZ, room.MaxZ - 0.5f);
        var cellDepth = (far - NearZ) / rows;
        var cells = new int[rows * cols];
        for (var i = 0; i < cells.Length; i++)
        {
            cells[i] = i;
        }
        for (var i = cells.Length - 1; i > 0; i--)
        {
            var j = random.Next(i + 1);
            (cells[i], cells[j]) = (cells[j], cells[i]);
        }

        var firstClass = random.Next(5);
        var objects = new SceneObject[count];
        for (var i = 0; i < count; i++)
        {
            var row = cells[i] / cols;
            var col = cells[i] % cols;
            var rowNear = NearZ + row * cellDepth;
            var cellZ = rowNear + 0.5f * cellDepth;
            // Centre the row on the camera's line of sight and keep it about as wide as the view at its near
            // edge (tan 30 deg ~ 0.58), so objects stay in view.
            var centreX = Math.Clamp(rig.Rest.X + MathF.Tan(rig.Yaw) * cellZ, room.MinX + 1, room.MaxX - 1);
            var halfX = MathF.Min(0.5f * rowNear + 0.2f, MathF.Min(room.MaxX - 0.3f - centreX, centreX - room.MinX - 0.3f));
            var cellWidth = 2 * halfX / cols;
            var cellX = centreX - halfX + (col + 0.5f) * cellWidth;
            var halfCellX = cellWidth / 2;
            var halfCellZ = cellDepth / 2;
            var maxFoot = MathF.Max(0.1f, MathF.Min(0.6f, MathF.Min(halfCellX, halfCellZ) - 0.08f));
            var classId = (byte)(SyntheticClasses.Box + (firstClass + i) % 5);
            var size = Size(classId, maxFoot, random);
            var foot = classId == SyntheticClasses.Box ? MathF.Sqrt(size.X * size.X + size.Z * size.Z) : size.X;
            var ampX = MathF.Max(0, halfCellX - foot - 0.05f);
            var ampZ = MathF.Max(0, halfCellZ - foot - 0.05f);
            var speed = random.Range(0.2f, 1f);
            objects[i] = new SceneObject(
                classId,
                size,
                Texture.Random(random, 2f, 8f),
                cellX,
                cellZ,
                ampX,
                ampZ,
                Frequency(speed, ampX),
                Frequency(0.6f * speed, ampZ),
                random.Range(0, 2 * MathF.PI),
                random.Range(0, 2 * MathF.PI),
                random.Range(0, 2 * MathF.PI),
                random.Sign() * random.Range(0.2f, 1.2f));
        }
        return objects;
    }

    private static float Frequency(float speed, float amplitude) => amplitude < 0.05f ? 0 : Math.Clamp(speed / amplitude, 0.15f, 2.5f);

    private static Vec3 Size(byte classId, float maxFoot, SceneRandom random)
    {
        var foot = maxFoot * random.Range(0.45f, 1f);
        switch (classId)
        {
            case SyntheticClasses.Box:
                var a = random.Range(0.4f, 1.17f);
                return new Vec3(foot * MathF.Cos(a), random.Range(0.15f, 0.7f), foot * MathF.Sin(a));
            case SyntheticClasses.Sphere:
                var r = MathF.Min(foot, 0.55f);
                return new Vec3(r, r, r);
            case SyntheticClasses.Cylinder:
                return new Vec3(foot, random.Range(0.2f, 0.8f), foot);
            case SyntheticClasses.Cone:
                return new Vec3(foot, random.Range(0.25f, 0.7f), foot);
            default:
                var rc = MathF.Min(foot * 0.8f, 0.35f);
                return new Vec3(rc, random.Range(0.1f, 0.5f), rc);
        }
    }
}
