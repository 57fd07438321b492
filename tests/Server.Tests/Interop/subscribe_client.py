"""Subscribes to a StreamMtl stream using only protos/ (stubs generated at test time) and decodes one result.

usage: subscribe_client.py GENERATED_DIR ADDRESS STREAM_ID
Prints one JSON line: frame index, label-map size and histogram, depth statistics, FLOPs accounting.
"""
import json
import struct
import sys
import zlib

sys.path.insert(0, sys.argv[1])
import grpc  # noqa: E402
import streammtl_pb2 as pb  # noqa: E402
import streammtl_pb2_grpc as rpc  # noqa: E402


def decode_png_gray8(data):
    """Minimal PNG decoder for 8-bit greyscale, non-interlaced (what the server sends for label maps)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width, height = 8, b"", 0, 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and colour == 0 and interlace == 0, (depth, colour, interlace)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    rows, prev, stride = [], bytearray(width), width + 1
    for y in range(height):
        f, line = raw[y * stride], bytearray(raw[y * stride + 1:(y + 1) * stride])
        for x in range(width):
            a = line[x - 1] if x else 0
            b = prev[x]
            c = prev[x - 1] if x else 0
            if f == 1:
                line[x] = (line[x] + a) & 255
            elif f == 2:
                line[x] = (line[x] + b) & 255
            elif f == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb_, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb_ and pa <= pc else b if pb_ <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return width, height, b"".join(rows)


def main():
    _, _, address, stream_id = sys.argv
    with grpc.insecure_channel(address) as channel:
        stub = rpc.VisionServiceStub(channel)
        model = stub.GetModelInfo(pb.GetModelInfoRequest(), timeout=30)
        request = pb.SubscribeRequest(
            stream_id=stream_id,
            tasks=[pb.TASK_SEGMENTATION, pb.TASK_DEPTH],
            encoding=pb.Encoding(depth=pb.OUTPUT_FORMAT_FLOAT16),
        )
        for result in stub.Subscribe(request, timeout=60):
            seg = next(o for o in result.outputs if o.task == pb.TASK_SEGMENTATION)
            depth = next(o for o in result.outputs if o.task == pb.TASK_DEPTH)
            w, h, labels = decode_png_gray8(seg.data)
            values = struct.unpack("<%de" % (depth.width * depth.height), depth.data)
            histogram = [labels.count(bytes([c])) for c in range(len(model.classes))]
            print(json.dumps({
                "frame_index": result.frame_index,
                "width": w, "height": h, "pixels": len(labels), "histogram": histogram,
                "classes": [c.name for c in model.classes],
                "depth_count": len(values), "depth_min": min(values), "depth_max": max(values),
                "dense": sum(f.dense for f in result.accounting.flops),
                "executed": sum(f.executed for f in result.accounting.flops),
            }))
            return 0
    return 1


if __name__ == "__main__":
    sys.exit(main())
