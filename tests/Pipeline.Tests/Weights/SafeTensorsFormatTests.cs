using StreamMtl.Pipeline.Weights;
using static TorchSharp.torch;

namespace StreamMtl.Pipeline.Tests.Weights;

/// <summary>Files laid out as the Python reference writes them load, in every float type we read.</summary>
public sealed class SafeTensorsFormatTests
{
    [Fact]
    public void PythonLayoutWithPaddedHeaderLoads()
    {
        // As safetensors.torch.save_file writes it: compact JSON, __metadata__ first, spaces to 8-byte alignment.
        string json = "{\"__metadata__\":{\"format\":\"pt\"},"
            + "\"a\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
            + "\"b\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[16,28]}}";
        byte[] data = [.. SafeTensorsBytes.Floats(1, 2, 3, 4), .. SafeTensorsBytes.Floats(-1, 0.5f, 7)];
        byte[] bytes = SafeTensorsBytes.Build(json, data);
        Assert.NotEqual(0, System.Text.Encoding.UTF8.GetByteCount(json) % 8);
        Assert.Equal((byte)' ', bytes[8 + System.Text.Encoding.UTF8.GetByteCount(json)]);

        using var dir = new TempDirectory();
        using var scope = NewDisposeScope();
        string path = dir.File("py.safetensors");
        File.WriteAllBytes(path, bytes);
        using var file = SafeTensorsFile.Read(path);
        Assert.Equal("pt", file.Metadata["format"]);
        Assert.Equal(["a", "b"], file.Names);
        Assert.Equal(new float[] { 1, 2, 3, 4 }, file.Load("a").data<float>().ToArray());
        Assert.Equal(new long[] { 2, 2 }, file.Load("a").shape);
        Assert.Equal(new float[] { -1, 0.5f, 7 }, file.Load("b").data<float>().ToArray());
    }

    [Fact]
    public void F16AndBF16AreWidenedToFloat32()
    {
        float[] values = [1f, -0.5f, 65504f, 0.099975586f, 0f, -3.25f];
        string json = "{\"h\":{\"dtype\":\"F16\",\"shape\":[2,3],\"data_offsets\":[0,12]},"
            + "\"b\":{\"dtype\":\"BF16\",\"shape\":[6],\"data_offsets\":[12,24]}}";
        float[] bf = [1f, -0.5f, 3.0e38f, 0.09960938f, 0f, -3.25f];
        byte[] bytes = SafeTensorsBytes.Build(json, [.. SafeTensorsBytes.Halves(values), .. SafeTensorsBytes.BFloat16s(bf)]);

        using var dir = new TempDirectory();
        using var scope = NewDisposeScope();
        string path = dir.File("half.safetensors");
        File.WriteAllBytes(path, bytes);
        using var file = SafeTensorsFile.Read(path);
        var h = file.Load("h");
        Assert.Equal(ScalarType.Float32, h.dtype);
        Assert.Equal(new long[] { 2, 3 }, h.shape);
        Assert.Equal(values.Select(v => (float)(Half)v), h.data<float>().ToArray());
        float[] expectedBf = bf.Select(v => BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(v) & unchecked((int)0xFFFF0000))).ToArray();
        Assert.Equal(expectedBf, file.Load("b").data<float>().ToArray());
        Assert.Equal(1f, expectedBf[0]);
        Assert.Equal(-3.25f, expectedBf[5]);
    }

    [Fact]
    public void UnpaddedHeaderAndEmptyFileOfTensorsAreAccepted()
    {
        using var dir = new TempDirectory();
        string path = dir.File("empty.safetensors");
        File.WriteAllBytes(path, SafeTensorsBytes.Build("{}", [], pad: false));
        using var file = SafeTensorsFile.Read(path);
        Assert.Empty(file.Names);
        Assert.Empty(file.Metadata);
    }
}
