using StreamMtl.Pipeline.Model;
using StreamMtl.Pipeline.Weights;
using static TorchSharp.torch;

namespace StreamMtl.Pipeline.Tests.Weights;

/// <summary>Every kind of damaged or mismatched file is a ModelFormatException that says what is wrong where.</summary>
public sealed class SafeTensorsCorruptionTests
{
    private const string Good = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";

    private static ModelFormatException OpenFails(byte[] bytes, string fragment)
    {
        using var dir = new TempDirectory();
        string path = dir.File("bad.safetensors");
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<ModelFormatException>(() => SafeTensorsFile.Read(path).Dispose());
        Assert.Contains(path, e.Message);
        Assert.Contains(fragment, e.Message);
        return e;
    }

    private static ModelFormatException HeaderFails(string json, int dataBytes, string fragment) =>
        OpenFails(SafeTensorsBytes.Build(json, new byte[dataBytes]), fragment);

    [Fact]
    public void FileShorterThanTheLengthPrefix() => OpenFails([1, 0, 0], "shorter than the 8-byte");

    [Fact]
    public void TruncatedFile()
    {
        byte[] whole = SafeTensorsBytes.Build(Good, SafeTensorsBytes.Floats(1, 2));
        OpenFails(whole[..20], "larger than the rest");
        OpenFails(whole[..^1], "out of range");
    }

    [Fact]
    public void AbsurdHeaderLength()
    {
        byte[] bytes = new byte[64];
        BitConverter.GetBytes(ulong.MaxValue).CopyTo(bytes, 0);
        OpenFails(bytes, "exceeds");
    }

    [Fact]
    public void RandomBytes()
    {
        var rng = new Random(5);
        for (int i = 0; i < 50; i++)
        {
            byte[] bytes = new byte[rng.Next(0, 4096)];
            rng.NextBytes(bytes);
            if (i % 2 == 0 && bytes.Length >= 8)
            {
                // A plausible length so the JSON parser sees the garbage too.
                BitConverter.GetBytes((ulong)(bytes.Length - 8)).CopyTo(bytes, 0);
            }
            using var dir = new TempDirectory();
            string path = dir.File("random.bin");
            File.WriteAllBytes(path, bytes);
            Assert.Throws<ModelFormatException>(() => SafeTensorsFile.Read(path).Dispose());
        }
    }

    [Fact]
    public void GarbageHeader() => HeaderFails("{\"w\": [oops", 0, "not valid JSON");

    [Fact]
    public void HeaderNotAnObject() => HeaderFails("[1, 2, 3]", 0, "must be a JSON object");

    [Theory]
    [InlineData("{\"w\":{\"shape\":[2],\"data_offsets\":[0,8]}}", "tensor 'w': missing or non-string dtype")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", "tensor 'w': missing or non-array shape")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":[2]}}", "tensor 'w': missing or non-array data_offsets")]
    [InlineData("{\"w\":{\"dtype\":\"F33\",\"shape\":[2],\"data_offsets\":[0,8]}}", "tensor 'w': unknown dtype 'F33'")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,32]}}", "tensor 'w': data_offsets [0, 32] out of range")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", "tensor 'w': data_offsets [0, 8] hold 8 bytes but shape [3] of F32 needs 12")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-8,0]}}", "tensor 'w': data_offsets entries must be non-negative")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", "tensor 'w': shape entries must be non-negative")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", "tensor 'w': data_offsets [8, 0] out of range")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4],\"data_offsets\":[0,8]}}", "tensor 'w': shape [4611686018427387904, 4] is too large")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"v\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", "tensor 'v' [4, 12] overlaps tensor 'w' [0, 8]")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", "lists 'w' twice")]
    [InlineData("{\"__metadata__\":{\"k\":1}}", "metadata 'k' must be a string")]
    [InlineData("{\"w\":\"F32\"}", "tensor 'w': entry must be an object")]
    public void InvalidHeaderEntry(string json, string fragment) => HeaderFails(json, 16, fragment);

    [Fact]
    public void NonFloatTensorCannotBeLoaded()
    {
        using var dir = new TempDirectory();
        string path = dir.File("i.safetensors");
        File.WriteAllBytes(path, SafeTensorsBytes.Build("{\"n\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}", new byte[8]));
        using var file = SafeTensorsFile.Read(path);
        var e = Assert.Throws<ModelFormatException>(() => file.Load("n"));
        Assert.Contains("tensor 'n' has dtype I64", e.Message);
        Assert.Contains("no tensor 'm'", Assert.Throws<ModelFormatException>(() => file.Load("m")).Message);
    }

    private static (TempDirectory Dir, string Path) SavedModelWith(Func<List<(string Name, Tensor Tensor)>, List<(string Name, Tensor Tensor)>> edit)
    {
        var dir = new TempDirectory();
        var model = new MultiTaskVit(ModelWeightsRoundTripTests.Small);
        var tensors = model.named_parameters().Select(p => (p.name, (Tensor)p.parameter)).ToList();
        string path = dir.File("edited.safetensors");
        SafeTensorsFile.Write(path, edit(tensors), new Dictionary<string, string>());
        return (dir, path);
    }

    private static ModelFormatException LoadFails(string path, bool strict = true)
    {
        var model = new MultiTaskVit(ModelWeightsRoundTripTests.Small);
        var before = model.named_parameters().Select(p => p.parameter.clone()).ToList();
        var e = Assert.Throws<ModelFormatException>(() => ModelWeights.LoadInto(model, path, strict));
        // Checked before copying: a failed load leaves the model untouched.
        Assert.All(model.parameters().Zip(before), pair => Assert.True(pair.First.allclose(pair.Second, rtol: 0, atol: 0)));
        return e;
    }

    [Fact]
    public void WrongShapeNamesTheTensorAndBothShapes()
    {
        using var scope = NewDisposeScope();
        var (dir, path) = SavedModelWith(list => [.. list.Select(t => t.Name == "blocks.0.mlp.fc1.weight" ? (t.Name, zeros(128, 16)) : t)]);
        using (dir)
        {
            var e = LoadFails(path);
            Assert.Contains("tensor 'blocks.0.mlp.fc1.weight' has shape [128, 16], expected [128, 32]", e.Message);
        }
    }

    [Fact]
    public void MissingTensorsAreAllListedUpToALimit()
    {
        using var scope = NewDisposeScope();
        var (dir, path) = SavedModelWith(list => [.. list.Where(t => !t.Name.StartsWith("tasks.", StringComparison.Ordinal) && t.Name != "pos_embed")]);
        using (dir)
        {
            var e = LoadFails(path);
            Assert.Contains("missing 29 tensor(s): pos_embed, tasks.depth.blocks.1.norm1.weight", e.Message);
            Assert.Contains("and 9 more", e.Message);
        }
    }

    [Fact]
    public void ExtraTensorFailsOnlyInStrictMode()
    {
        using var scope = NewDisposeScope();
        var (dir, path) = SavedModelWith(list => [.. list, ("cls_token", zeros(1, 1, 32))]);
        using (dir)
        {
            Assert.Contains("unexpected 1 tensor(s) not in the model: cls_token", LoadFails(path).Message);
            var model = new MultiTaskVit(ModelWeightsRoundTripTests.Small);
            ModelWeights.LoadInto(model, path, strict: false);
        }
    }
}
