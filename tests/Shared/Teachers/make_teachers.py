"""Tiny ONNX teachers with known weights for the teacher tests (Debian's python3-onnx; no other dependency).

usage: make_teachers.py OUT_DIR
Every model takes a float32 image of 64x48 (NCHW [1,3,48,64] unless named otherwise); TeacherModels.cs holds the same weights.
"""
import sys
import os
import onnx
from onnx import helper, TensorProto

W, H = 64, 48
# Segmentation: 1x1 convolution, 3 input channels (RGB order) -> 3 class logits.
SEG_W = [[2.0, -1.0, 0.5], [-1.5, 2.5, -0.5], [0.25, -0.75, 1.75]]
SEG_B = [0.1, -0.2, 0.05]
# Depth: 0.5 * (r + g + b) + 0.25 metres for inputs in 0..1.
DEPTH_W = [[0.5, 0.5, 0.5]]
DEPTH_B = [0.25]
# Normals: a linear map whose output is made unit length by the reader.
NORMALS_W = [[1.0, 0.0, -0.5], [0.0, 1.0, 0.5], [0.2, 0.3, -1.0]]
NORMALS_B = [0.0, 0.0, -0.5]


def conv(name, weights, bias, inp, out):
    c_out, c_in = len(weights), len(weights[0])
    w = helper.make_tensor(name + "_w", TensorProto.FLOAT, [c_out, c_in, 1, 1], [v for row in weights for v in row])
    b = helper.make_tensor(name + "_b", TensorProto.FLOAT, [c_out], bias)
    node = helper.make_node("Conv", [inp, name + "_w", name + "_b"], [out], kernel_shape=[1, 1])
    return node, [w, b]


def save(out_dir, name, nodes, inits, inp_shape, out_name, out_shape):
    graph = helper.make_graph(nodes, name,
                              [helper.make_tensor_value_info("image", TensorProto.FLOAT, inp_shape)],
                              [helper.make_tensor_value_info(out_name, TensorProto.FLOAT, out_shape)], inits)
    model = helper.make_model(graph, producer_name="streammtl-tests", opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 7
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(out_dir, name + ".onnx"))


def main(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    nchw = [1, 3, H, W]
    node, inits = conv("seg", SEG_W, SEG_B, "image", "logits")
    save(out_dir, "seg3", [node], inits, nchw, "logits", [1, 3, H, W])
    # The same classifier fed NHWC in BGR order: transposed to NCHW, input channels reversed in the weights.
    transpose = helper.make_node("Transpose", ["image"], ["nchw"], perm=[0, 3, 1, 2])
    node, inits = conv("seg", [row[::-1] for row in SEG_W], SEG_B, "nchw", "logits")
    save(out_dir, "seg3_nhwc_bgr", [transpose, node], inits, [1, H, W, 3], "logits", [1, 3, H, W])
    # Dynamic height and width: any spec size fits.
    node, inits = conv("seg", SEG_W, SEG_B, "image", "logits")
    save(out_dir, "seg3_dynamic", [node], inits, [1, 3, "height", "width"], "logits", [1, 3, "height", "width"])
    # A fixed 32x32 input, refused against a 64x48 spec.
    node, inits = conv("seg", SEG_W, SEG_B, "image", "logits")
    save(out_dir, "seg3_32x32", [node], inits, [1, 3, 32, 32], "logits", [1, 3, 32, 32])
    # NaN: the log of logits minus 1000 (always negative).
    node, inits = conv("seg", SEG_W, SEG_B, "image", "raw")
    thousand = helper.make_tensor("thousand", TensorProto.FLOAT, [], [1000.0])
    sub = helper.make_node("Sub", ["raw", "thousand"], ["shifted"])
    log = helper.make_node("Log", ["shifted"], ["logits"])
    save(out_dir, "seg3_nan", [node, sub, log], inits + [thousand], nchw, "logits", [1, 3, H, W])
    node, inits = conv("depth", DEPTH_W, DEPTH_B, "image", "depth")
    save(out_dir, "depth", [node], inits, nchw, "depth", [1, 1, H, W])
    node, inits = conv("normals", NORMALS_W, NORMALS_B, "image", "normals")
    save(out_dir, "normals", [node], inits, nchw, "normals", [1, 3, H, W])
    # Depth from position alone (the distillation test): 1 + 3 y / (H - 1) + 0.5 x / (W - 1) metres, whatever the pixels.
    node, inits = conv("posdepth", [[0.0, 0.0, 0.0]], [0.0], "image", "zero")
    ramp = helper.make_tensor("ramp", TensorProto.FLOAT, [1, 1, H, W],
                              [1.0 + 3.0 * y / (H - 1) + 0.5 * x / (W - 1) for y in range(H) for x in range(W)])
    add = helper.make_node("Add", ["zero", "ramp"], ["depth"])
    save(out_dir, "position_depth", [node, add], inits + [ramp], nchw, "depth", [1, 1, H, W])
    pool = helper.make_node("GlobalAveragePool", ["image"], ["features"])
    save(out_dir, "features", [pool], [], nchw, "features", [1, 3, 1, 1])


if __name__ == "__main__":
    main(sys.argv[1])
