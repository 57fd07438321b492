using System.Buffers.Binary;
using System.Text;
using StreamMtl.Pipeline.Model;
using StreamMtl.Pipeline.Results;

namespace StreamMtl.Server.Web;

/// <summary>
/// One result as a binary WebSocket message, little-endian: version (u8 = 3), flags (u8, bit 0 keyframe), stream id length
/// (u16) and UTF-8 bytes, frame index (i64), capture time (f64, Unix milliseconds), FLOPs saved ratio (f32), tokens
/// recomputed (i32), tokens total (i32), depth scale (f32, metres per unit), results dropped for this viewer (i64), compute
/// budget (f32), compute level (u8, <see cref="ComputeLevel"/>), part count (u8), then per part its kind (u8, <see cref="Part"/>) and length (u32) followed by its bytes. The payloads are
/// the pipeline's encodings as gRPC sends them (JPEG input, PNG label map, PNG16 depth, PNG normals). A part whose kind has
/// <see cref="UnchangedFlag"/> set has no bytes: it is the output this page was last sent for that stream and task (a task
/// held at a reduced compute level), which the page keeps showing.
/// </summary>
public static class ViewerMessage
{
    public const byte Version = 3;

    /// <summary>Set in a part's kind: the part is unchanged since the last one of its kind, and carries no bytes.</summary>
    public const byte UnchangedFlag = 0x80;

    /// <summary>What a part holds.</summary>
    public enum Part : byte
    {
        InputJpeg = 1,
        Labels = 2,
        Depth = 3,
        Normals = 4,
    }

    /// <param name="sent">This page's record of the stream's outputs sent: an output it was last sent goes as an unchanged
    /// part. Null: every part carries its bytes.</param>
    internal static byte[] Encode(EncodedResult result, long dropped, Service.UnchangedOutputs? sent = null)
    {
        byte[] id = Encoding.UTF8.GetBytes(result.StreamId);
        var parts = new List<(byte Kind, byte[] Data)>(4);
        if (result.InputJpeg != null)
        {
            parts.Add(((byte)Part.InputJpeg, result.InputJpeg));
        }
        float depthScale = 0;
        foreach (var output in result.Outputs)
        {
            var kind = (byte)(output.Task switch
            {
                VisionTask.Segmentation => Part.Labels,
                VisionTask.Depth => Part.Depth,
                _ => Part.Normals,
            });
            parts.Add(sent?.Repeats(output) == true ? ((byte)(kind | UnchangedFlag), []) : (kind, output.Data));
            if (output.Task == VisionTask.Depth)
            {
                depthScale = output.Scale;
            }
        }
        int size = 2 + 2 + id.Length + 8 + 8 + 4 + 4 + 4 + 4 + 8 + 4 + 1 + 1 + parts.Sum(p => 5 + p.Data.Length);
        byte[] message = new byte[size];
        var span = message.AsSpan();
        span[0] = Version;
        span[1] = (byte)(result.Accounting.Keyframe ? 1 : 0);
        BinaryPrimitives.WriteUInt16LittleEndian(span[2..], (ushort)id.Length);
        id.CopyTo(span[4..]);
        int at = 4 + id.Length;
        BinaryPrimitives.WriteInt64LittleEndian(span[at..], result.FrameIndex);
        BinaryPrimitives.WriteDoubleLittleEndian(span[(at + 8)..], result.CaptureTime.ToUnixTimeMilliseconds() + result.CaptureTime.Ticks % TimeSpan.TicksPerMillisecond / (double)TimeSpan.TicksPerMillisecond);
        BinaryPrimitives.WriteSingleLittleEndian(span[(at + 16)..], (float)result.Accounting.SavedRatio);
        BinaryPrimitives.WriteInt32LittleEndian(span[(at + 20)..], (int)Math.Min(int.MaxValue, result.Accounting.Tokens.Sum(t => (long)t.Recomputed)));
        BinaryPrimitives.WriteInt32LittleEndian(span[(at + 24)..], (int)Math.Min(int.MaxValue, result.Accounting.Tokens.Sum(t => (long)t.Total)));
        BinaryPrimitives.WriteSingleLittleEndian(span[(at + 28)..], depthScale);
        BinaryPrimitives.WriteInt64LittleEndian(span[(at + 32)..], dropped);
        BinaryPrimitives.WriteSingleLittleEndian(span[(at + 40)..], (float)result.Accounting.ComputeBudget);
        span[at + 44] = (byte)result.Accounting.Level;
        span[at + 45] = (byte)parts.Count;
        at += 46;
        foreach (var (kind, data) in parts)
        {
            span[at] = kind;
            BinaryPrimitives.WriteUInt32LittleEndian(span[(at + 1)..], (uint)data.Length);
            data.CopyTo(span[(at + 5)..]);
            at += 5 + data.Length;
        }
        return message;
    }

    /// <summary>The header and parts of a message (for tests and tools); throws <see cref="FormatException"/> on a malformed one.</summary>
    public static Decoded Decode(ReadOnlySpan<byte> message)
    {
        try
        {
            if (message[0] != Version)
            {
                throw new FormatException($"unknown message version {message[0]}");
            }
            int idLength = BinaryPrimitives.ReadUInt16LittleEndian(message[2..]);
            string id = Encoding.UTF8.GetString(message.Slice(4, idLength));
            int at = 4 + idLength;
            var parts = new Dictionary<Part, byte[]>();
            var unchanged = new HashSet<Part>();
            int count = message[at + 45];
            int next = at + 46;
            for (int i = 0; i < count; i++)
            {
                int length = checked((int)BinaryPrimitives.ReadUInt32LittleEndian(message[(next + 1)..]));
                byte kind = message[next];
                if ((kind & UnchangedFlag) != 0)
                {
                    if (length != 0)
                    {
                        throw new FormatException($"unchanged part {kind & ~UnchangedFlag} carries {length} bytes");
                    }
                    unchanged.Add((Part)(kind & ~UnchangedFlag));
                }
                else
                {
                    parts[(Part)kind] = message.Slice(next + 5, length).ToArray();
                }
                next += 5 + length;
            }
            if (next != message.Length)
            {
                throw new FormatException($"message has {message.Length - next} bytes after its parts");
            }
            return new Decoded(id, BinaryPrimitives.ReadInt64LittleEndian(message[at..]), BinaryPrimitives.ReadDoubleLittleEndian(message[(at + 8)..]),
                BinaryPrimitives.ReadSingleLittleEndian(message[(at + 16)..]), BinaryPrimitives.ReadInt32LittleEndian(message[(at + 20)..]),
                BinaryPrimitives.ReadInt32LittleEndian(message[(at + 24)..]), (message[1] & 1) != 0, BinaryPrimitives.ReadSingleLittleEndian(message[(at + 28)..]),
                BinaryPrimitives.ReadInt64LittleEndian(message[(at + 32)..]), BinaryPrimitives.ReadSingleLittleEndian(message[(at + 40)..]),
                (ComputeLevel)message[at + 44], parts, unchanged);
        }
        catch (Exception e) when (e is ArgumentOutOfRangeException or IndexOutOfRangeException or OverflowException)
        {
            throw new FormatException("truncated viewer message", e);
        }
    }

    /// <summary>A decoded message.</summary>
    public sealed record Decoded(string StreamId, long FrameIndex, double CaptureUnixMs, float FlopsSavedRatio, int TokensRecomputed, int TokensTotal,
        bool Keyframe, float DepthScale, long Dropped, float ComputeBudget, ComputeLevel Level, IReadOnlyDictionary<Part, byte[]> Parts,
        IReadOnlySet<Part> Unchanged);
}
