namespace StreamMtl.Pipeline.Weights;

/// <summary>Element types of the safetensors format (names as spelled in the header).</summary>
public enum SafeTensorsDType
{
    Bool,
    U8,
    I8,
    F8E4M3,
    F8E5M2,
    I16,
    U16,
    F16,
    BF16,
    I32,
    U32,
    F32,
    I64,
    U64,
    F64,
}

/// <summary>Header spelling and element sizes of <see cref="SafeTensorsDType"/>.</summary>
public static class SafeTensorsDTypes
{
    private static readonly Dictionary<string, SafeTensorsDType> ByName = new(StringComparer.Ordinal)
    {
        ["BOOL"] = SafeTensorsDType.Bool,
        ["U8"] = SafeTensorsDType.U8,
        ["I8"] = SafeTensorsDType.I8,
        ["F8_E4M3"] = SafeTensorsDType.F8E4M3,
        ["F8_E5M2"] = SafeTensorsDType.F8E5M2,
        ["I16"] = SafeTensorsDType.I16,
        ["U16"] = SafeTensorsDType.U16,
        ["F16"] = SafeTensorsDType.F16,
        ["BF16"] = SafeTensorsDType.BF16,
        ["I32"] = SafeTensorsDType.I32,
        ["U32"] = SafeTensorsDType.U32,
        ["F32"] = SafeTensorsDType.F32,
        ["I64"] = SafeTensorsDType.I64,
        ["U64"] = SafeTensorsDType.U64,
        ["F64"] = SafeTensorsDType.F64,
    };

    public static bool TryParse(string name, out SafeTensorsDType dtype) => ByName.TryGetValue(name, out dtype);

    /// <summary>The name written in the header ("F32", "BF16", "F8_E4M3", ...).</summary>
    public static string HeaderName(this SafeTensorsDType dtype) => ByName.First(p => p.Value == dtype).Key;

    public static int Size(this SafeTensorsDType dtype) => dtype switch
    {
        SafeTensorsDType.Bool or SafeTensorsDType.U8 or SafeTensorsDType.I8 or SafeTensorsDType.F8E4M3 or SafeTensorsDType.F8E5M2 => 1,
        SafeTensorsDType.I16 or SafeTensorsDType.U16 or SafeTensorsDType.F16 or SafeTensorsDType.BF16 => 2,
        SafeTensorsDType.I32 or SafeTensorsDType.U32 or SafeTensorsDType.F32 => 4,
        SafeTensorsDType.I64 or SafeTensorsDType.U64 or SafeTensorsDType.F64 => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype)),
    };

    /// <summary>Whether <see cref="SafeTensorsReader.Load"/> can convert this type to float32.</summary>
    public static bool IsLoadableAsFloat(this SafeTensorsDType dtype) =>
        dtype is SafeTensorsDType.F32 or SafeTensorsDType.F16 or SafeTensorsDType.BF16 or SafeTensorsDType.F64;
}
