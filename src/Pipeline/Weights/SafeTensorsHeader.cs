using System.Text.Json;

namespace StreamMtl.Pipeline.Weights;

/// <summary>The parsed, validated JSON header of a safetensors file.</summary>
internal sealed class SafeTensorsHeader
{
    private SafeTensorsHeader(List<SafeTensorInfo> tensors, Dictionary<string, string> metadata)
    {
        Tensors = tensors;
        Metadata = metadata;
    }

    /// <summary>Tensors in header order.</summary>
    public List<SafeTensorInfo> Tensors { get; }

    public Dictionary<string, string> Metadata { get; }

    /// <summary>Parses and checks the header against a data buffer of <paramref name="bufferLength"/> bytes.</summary>
    public static SafeTensorsHeader Parse(string file, ReadOnlySpan<byte> json, long bufferLength)
    {
        JsonDocument document;
        try
        {
            // Depth is capped low: a valid header nests at most three levels, so deeper input is hostile.
            document = JsonDocument.Parse(json.ToArray(), new JsonDocumentOptions { MaxDepth = 8 });
        }
        catch (JsonException e)
        {
            throw new ModelFormatException($"{file}: header is not valid JSON ({e.Message})", e);
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new ModelFormatException($"{file}: header must be a JSON object, found {root.ValueKind}");
            }
            var tensors = new List<SafeTensorInfo>();
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var property in root.EnumerateObject())
            {
                if (!seen.Add(property.Name))
                {
                    throw new ModelFormatException($"{file}: header lists '{property.Name}' twice");
                }
                if (property.Name == "__metadata__")
                {
                    ReadMetadata(file, property.Value, metadata);
                }
                else
                {
                    tensors.Add(ReadEntry(file, property.Name, property.Value, bufferLength));
                }
            }
            CheckNoOverlap(file, tensors);
            return new SafeTensorsHeader(tensors, metadata);
        }
    }

    private static void ReadMetadata(string file, JsonElement value, Dictionary<string, string> metadata)
    {
        if (value.ValueKind != JsonValueKind.Object)
        {
            throw new ModelFormatException($"{file}: __metadata__ must be an object of strings, found {value.ValueKind}");
        }
        foreach (var entry in value.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.String)
            {
                throw new ModelFormatException($"{file}: metadata '{entry.Name}' must be a string, found {entry.Value.ValueKind}");
            }
            metadata[entry.Name] = entry.Value.GetString()!;
        }
    }

    private static SafeTensorInfo ReadEntry(string file, string name, JsonElement value, long bufferLength)
    {
        string where = $"{file}: tensor '{name}'";
        if (value.ValueKind != JsonValueKind.Object)
        {
            throw new ModelFormatException($"{where}: entry must be an object, found {value.ValueKind}");
        }
        if (!value.TryGetProperty("dtype", out var dtypeElement) || dtypeElement.ValueKind != JsonValueKind.String)
        {
            throw new ModelFormatException($"{where}: missing or non-string dtype");
        }
        string dtypeName = dtypeElement.GetString()!;
        if (!SafeTensorsDTypes.TryParse(dtypeName, out var dtype))
        {
            throw new ModelFormatException($"{where}: unknown dtype '{dtypeName}'");
        }
        long[] shape = ReadIntegers(where, value, "shape", expectedCount: null);
        long[] offsets = ReadIntegers(where, value, "data_offsets", expectedCount: 2);
        long begin = offsets[0];
        long end = offsets[1];
        if (begin > end || end > bufferLength)
        {
            throw new ModelFormatException($"{where}: data_offsets [{begin}, {end}] out of range of the {bufferLength}-byte data buffer");
        }
        long expected;
        try
        {
            expected = checked(shape.Aggregate(1L, (a, b) => checked(a * b)) * dtype.Size());
        }
        catch (OverflowException)
        {
            throw new ModelFormatException($"{where}: shape {SafeTensorInfo.FormatShape(shape)} is too large");
        }
        if (expected != end - begin)
        {
            throw new ModelFormatException(
                $"{where}: data_offsets [{begin}, {end}] hold {end - begin} bytes but shape {SafeTensorInfo.FormatShape(shape)} of {dtypeName} needs {expected}");
        }
        return new SafeTensorInfo(name, dtype, shape, begin, end);
    }

    private static long[] ReadIntegers(string where, JsonElement entry, string key, int? expectedCount)
    {
        if (!entry.TryGetProperty(key, out var array) || array.ValueKind != JsonValueKind.Array)
        {
            throw new ModelFormatException($"{where}: missing or non-array {key}");
        }
        int count = array.GetArrayLength();
        if (expectedCount is { } n && count != n)
        {
            throw new ModelFormatException($"{where}: {key} must have {n} entries, found {count}");
        }
        if (count > 64)
        {
            throw new ModelFormatException($"{where}: {key} has {count} entries; at most 64 dimensions are supported");
        }
        var values = new long[count];
        int i = 0;
        foreach (var item in array.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt64(out long v) || v < 0)
            {
                throw new ModelFormatException($"{where}: {key} entries must be non-negative integers, found {item.GetRawText()}");
            }
            values[i++] = v;
        }
        return values;
    }

    // Overlapping ranges would let one tensor's bytes alias another's; the spec forbids it.
    private static void CheckNoOverlap(string file, List<SafeTensorInfo> tensors)
    {
        var sorted = tensors.Where(t => t.ByteLength > 0).OrderBy(t => t.Begin).ToList();
        for (int i = 1; i < sorted.Count; i++)
        {
            if (sorted[i].Begin < sorted[i - 1].End)
            {
                throw new ModelFormatException(
                    $"{file}: tensor '{sorted[i].Name}' [{sorted[i].Begin}, {sorted[i].End}] overlaps tensor '{sorted[i - 1].Name}' [{sorted[i - 1].Begin}, {sorted[i - 1].End}]");
            }
        }
    }
}
