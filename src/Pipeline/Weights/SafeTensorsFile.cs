using System.Runtime.InteropServices;
using System.Text.Json;
using static TorchSharp.torch;

namespace StreamMtl.Pipeline.Weights;

/// <summary>Reads and writes the safetensors format (u64 LE header length, JSON header, raw LE data).</summary>
public static class SafeTensorsFile
{
    /// <summary>Opens a file for reading; see <see cref="SafeTensorsReader.Open"/>.</summary>
    public static SafeTensorsReader Read(string path) => SafeTensorsReader.Open(path);

    /// <summary>
    /// Writes tensors (any dtype/device; stored as <paramref name="dtype"/>, F32 or F16) and string metadata.
    /// The file is written beside the target and renamed over it, so readers never see half a file.
    /// </summary>
    public static void Write(string path, IEnumerable<(string Name, Tensor Tensor)> tensors,
        IReadOnlyDictionary<string, string> metadata, SafeTensorsDType dtype = SafeTensorsDType.F32)
    {
        if (dtype is not (SafeTensorsDType.F32 or SafeTensorsDType.F16))
        {
            throw new ArgumentOutOfRangeException(nameof(dtype), $"only F32 and F16 can be written, got {dtype.HeaderName()}");
        }
        var list = tensors.ToList();
        byte[] header = BuildHeader(list, metadata, dtype);
        string full = System.IO.Path.GetFullPath(path);
        string temp = $"{full}.{Guid.NewGuid():N}.tmp";
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                Span<byte> prefix = stackalloc byte[8];
                System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)header.Length);
                stream.Write(prefix);
                stream.Write(header);
                foreach (var (_, t) in list)
                {
                    stream.Write(Bytes(t, dtype));
                }
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp))
            {
                File.Delete(temp);
            }
        }
    }

    private static byte[] BuildHeader(List<(string Name, Tensor Tensor)> tensors, IReadOnlyDictionary<string, string> metadata, SafeTensorsDType dtype)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            if (metadata.Count > 0)
            {
                json.WriteStartObject("__metadata__");
                foreach (var (key, value) in metadata)
                {
                    json.WriteString(key, value);
                }
                json.WriteEndObject();
            }
            long offset = 0;
            foreach (var (name, t) in tensors)
            {
                if (name == "__metadata__" || !names.Add(name))
                {
                    throw new ArgumentException($"tensor name '{name}' is reserved or used twice", nameof(tensors));
                }
                long bytes = t.numel() * dtype.Size();
                json.WriteStartObject(name);
                json.WriteString("dtype", dtype.HeaderName());
                json.WriteStartArray("shape");
                foreach (long d in t.shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + bytes);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += bytes;
            }
            json.WriteEndObject();
        }
        // The spec pads the header with spaces so the data buffer starts 8-byte aligned.
        int padding = (int)((8 - buffer.Length % 8) % 8);
        for (int i = 0; i < padding; i++) buffer.WriteByte((byte)' ');
        return buffer.ToArray();
    }

    private static byte[] Bytes(Tensor t, SafeTensorsDType dtype)
    {
        using var scope = NewDisposeScope();
        float[] values = t.detach().cpu().to_type(ScalarType.Float32).contiguous().data<float>().ToArray();
        if (dtype == SafeTensorsDType.F32)
        {
            return MemoryMarshal.AsBytes(values.AsSpan()).ToArray();
        }
        var halves = new Half[values.Length];
        for (int i = 0; i < values.Length; i++) halves[i] = (Half)values[i];
        return MemoryMarshal.AsBytes(halves.AsSpan()).ToArray();
    }
}
