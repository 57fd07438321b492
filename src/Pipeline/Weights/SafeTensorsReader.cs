using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using static TorchSharp.torch;

namespace StreamMtl.Pipeline.Weights;

/// <summary>An open safetensors file: validated header up front, tensor bytes read on demand.</summary>
public sealed class SafeTensorsReader : IDisposable
{
    /// <summary>Headers beyond this are refused: real ones are kilobytes, and the length field is untrusted.</summary>
    public const long MaxHeaderBytes = 100L * 1024 * 1024;

    private readonly SafeFileHandle _handle;
    private readonly Dictionary<string, SafeTensorInfo> _byName;
    private readonly long _dataStart;

    private SafeTensorsReader(string path, SafeFileHandle handle, SafeTensorsHeader header, long dataStart)
    {
        Path = path;
        _handle = handle;
        _dataStart = dataStart;
        Tensors = header.Tensors;
        Metadata = header.Metadata;
        _byName = header.Tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
    }

    public string Path { get; }

    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Header entries in file order.</summary>
    public IReadOnlyList<SafeTensorInfo> Tensors { get; }

    public IEnumerable<string> Names => Tensors.Select(t => t.Name);

    public bool Contains(string name) => _byName.ContainsKey(name);

    public SafeTensorInfo Info(string name) => _byName.TryGetValue(name, out var info)
        ? info
        : throw new ModelFormatException($"{Path}: no tensor '{name}'");

    /// <summary>Opens and validates a file; throws <see cref="ModelFormatException"/> for anything malformed.</summary>
    public static SafeTensorsReader Open(string path)
    {
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("safetensors data is little-endian; big-endian hosts are not supported");
        }
        var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        try
        {
            long length = RandomAccess.GetLength(handle);
            if (length < 8)
            {
                throw new ModelFormatException($"{path}: file is {length} bytes, shorter than the 8-byte header length");
            }
            Span<byte> prefix = stackalloc byte[8];
            ReadExactly(path, handle, prefix, 0);
            ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
            if (headerLength > MaxHeaderBytes)
            {
                throw new ModelFormatException($"{path}: header length {headerLength} exceeds the {MaxHeaderBytes}-byte limit (not a safetensors file?)");
            }
            if ((long)headerLength > length - 8)
            {
                throw new ModelFormatException($"{path}: header length {headerLength} is larger than the rest of the {length}-byte file (truncated?)");
            }
            var json = new byte[headerLength];
            ReadExactly(path, handle, json, 8);
            long dataStart = 8 + (long)headerLength;
            var header = SafeTensorsHeader.Parse(path, json, length - dataStart);
            return new SafeTensorsReader(path, handle, header, dataStart);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>Reads a tensor as a float32 CPU tensor (F32, F16, BF16, F64 are converted).</summary>
    public Tensor Load(string name)
    {
        var info = Info(name);
        if (!info.DType.IsLoadableAsFloat())
        {
            throw new ModelFormatException($"{Path}: tensor '{name}' has dtype {info.DType.HeaderName()}, which cannot be loaded as float32");
        }
        if (info.ElementCount > Array.MaxLength)
        {
            throw new ModelFormatException($"{Path}: tensor '{name}' has {info.ElementCount} elements, more than one array can hold");
        }
        var bytes = new byte[info.ByteLength];
        ReadExactly(Path, _handle, bytes, _dataStart + info.Begin);
        float[] values = ToFloats(info.DType, bytes);
        return tensor(values, info.Shape, ScalarType.Float32);
    }

    private static float[] ToFloats(SafeTensorsDType dtype, byte[] bytes)
    {
        switch (dtype)
        {
            case SafeTensorsDType.F32:
                return MemoryMarshal.Cast<byte, float>(bytes).ToArray();
            case SafeTensorsDType.F64:
            {
                var source = MemoryMarshal.Cast<byte, double>(bytes);
                var result = new float[source.Length];
                for (int i = 0; i < source.Length; i++) result[i] = (float)source[i];
                return result;
            }
            case SafeTensorsDType.F16:
            {
                var source = MemoryMarshal.Cast<byte, Half>(bytes);
                var result = new float[source.Length];
                for (int i = 0; i < source.Length; i++) result[i] = (float)source[i];
                return result;
            }
            case SafeTensorsDType.BF16:
            {
                // bfloat16 is the top half of a float32, so widening is a shift.
                var source = MemoryMarshal.Cast<byte, ushort>(bytes);
                var result = new float[source.Length];
                for (int i = 0; i < source.Length; i++) result[i] = BitConverter.Int32BitsToSingle(source[i] << 16);
                return result;
            }
            default:
                throw new ArgumentOutOfRangeException(nameof(dtype));
        }
    }

    private static void ReadExactly(string path, SafeFileHandle handle, Span<byte> buffer, long offset)
    {
        while (buffer.Length > 0)
        {
            int read = RandomAccess.Read(handle, buffer, offset);
            if (read <= 0)
            {
                // Only reachable if the file shrank after its length was checked.
                throw new ModelFormatException($"{path}: unexpected end of file at byte {offset}");
            }
            buffer = buffer[read..];
            offset += read;
        }
    }

    public void Dispose() => _handle.Dispose();
}
