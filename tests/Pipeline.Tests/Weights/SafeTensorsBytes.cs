using System.Buffers.Binary;
using System.Text;

namespace StreamMtl.Pipeline.Tests.Weights;

/// <summary>Builds safetensors files byte by byte, the way the Python reference implementation lays them out.</summary>
internal static class SafeTensorsBytes
{
    /// <summary>Header JSON padded with spaces to a multiple of 8 bytes, then the data buffer.</summary>
    public static byte[] Build(string headerJson, byte[] data, bool pad = true)
    {
        var header = Encoding.UTF8.GetBytes(headerJson).ToList();
        while (pad && header.Count % 8 != 0)
        {
            header.Add((byte)' ');
        }
        var bytes = new byte[8 + header.Count + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)header.Count);
        header.CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + header.Count);
        return bytes;
    }

    public static byte[] Floats(params float[] values)
    {
        var bytes = new byte[values.Length * 4];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), values[i]);
        return bytes;
    }

    public static byte[] Halves(params float[] values)
    {
        var bytes = new byte[values.Length * 2];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteHalfLittleEndian(bytes.AsSpan(i * 2), (Half)values[i]);
        return bytes;
    }

    /// <summary>bfloat16 by truncation: exact for values with at most 8 significant bits.</summary>
    public static byte[] BFloat16s(params float[] values)
    {
        var bytes = new byte[values.Length * 2];
        for (int i = 0; i < values.Length; i++)
        {
            ushort top = (ushort)(BitConverter.SingleToInt32Bits(values[i]) >>> 16);
            BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(i * 2), top);
        }
        return bytes;
    }
}
