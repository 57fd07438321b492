namespace StreamMtl.Pipeline.Weights;

/// <summary>One tensor's header entry: type, shape and byte range relative to the start of the data buffer.</summary>
public sealed record SafeTensorInfo(string Name, SafeTensorsDType DType, long[] Shape, long Begin, long End)
{
    public long ElementCount => Shape.Aggregate(1L, (a, b) => a * b);

    public long ByteLength => End - Begin;

    public string ShapeText => FormatShape(Shape);

    public static string FormatShape(IEnumerable<long> shape) => "[" + string.Join(", ", shape) + "]";
}
