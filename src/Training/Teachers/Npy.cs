using System.Runtime.InteropServices;
using System.Text;

namespace StreamMtl.Training.Teachers;

/// <summary>NumPy .npy files (format 1.0, little-endian, C order): what numpy.load reads without help.</summary>
public static class Npy
{
    private static ReadOnlySpan<byte> Magic => [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    /// <summary>Writes <paramref name="values"/> with <paramref name="shape"/> as float32 ('&lt;f4') or, when <paramref name="half"/>, float16 ('&lt;f2').</summary>
    public static void Write(string path, ReadOnlySpan<float> values, IReadOnlyList<long> shape, bool half = false)
    {
        if (shape.Aggregate(1L, (a, b) => a * b) != values.Length)
        {
            throw new ArgumentException($"shape [{string.Join(",", shape)}] does not hold {values.Length} values", nameof(shape));
        }
        string dims = shape.Count == 1 ? $"{shape[0]}," : string.Join(", ", shape);
        string header = $"{{'descr': '{(half ? "<f2" : "<f4")}', 'fortran_order': False, 'shape': ({dims}), }}";
        // Magic (6) + version (2) + header length (2) + header + padding, ending in a newline, is a multiple of 64.
        int total = (10 + header.Length + 1 + 63) / 64 * 64;
        header = header.PadRight(total - 10 - 1) + "\n";
        using var stream = File.Create(path);
        stream.Write(Magic);
        stream.Write([1, 0]);
        Span<byte> length = [(byte)(header.Length & 0xff), (byte)(header.Length >> 8)];
        stream.Write(length);
        stream.Write(Encoding.ASCII.GetBytes(header));
        if (half)
        {
            var halves = new Half[values.Length];
            for (int i = 0; i < values.Length; i++)
            {
                halves[i] = (Half)values[i];
            }
            stream.Write(MemoryMarshal.AsBytes(halves.AsSpan()));
        }
        else
        {
            stream.Write(MemoryMarshal.AsBytes(values));
        }
    }

    /// <summary>Reads a float32 or float16 .npy written by <see cref="Write"/> (or a float64 one, as NumPy writes by default): its values (as float32) and shape.</summary>
    public static (float[] Values, long[] Shape) Read(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        if (bytes.Length < 10 || !bytes.AsSpan(0, 6).SequenceEqual(Magic) || bytes[6] != 1)
        {
            throw new InvalidDataException($"{path}: not a version-1 .npy file");
        }
        int headerLength = bytes[8] | (bytes[9] << 8);
        string header = Encoding.ASCII.GetString(bytes, 10, headerLength);
        bool half = header.Contains("'<f2'", StringComparison.Ordinal);
        bool wide = header.Contains("'<f8'", StringComparison.Ordinal);
        if (!half && !wide && !header.Contains("'<f4'", StringComparison.Ordinal))
        {
            throw new InvalidDataException($"{path}: only <f4, <f2 and <f8 are read, header {header.Trim()}");
        }
        int open = header.IndexOf("'shape': (", StringComparison.Ordinal) + 10;
        string dims = header[open..header.IndexOf(')', open)];
        long[] shape = [.. dims.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(long.Parse)];
        var data = bytes.AsSpan(10 + headerLength);
        float[] values = half ? [.. MemoryMarshal.Cast<byte, Half>(data).ToArray().Select(h => (float)h)]
            : wide ? [.. MemoryMarshal.Cast<byte, double>(data).ToArray().Select(d => (float)d)]
            : MemoryMarshal.Cast<byte, float>(data).ToArray();
        return (values, shape);
    }
}
