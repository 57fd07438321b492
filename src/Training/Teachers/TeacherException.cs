namespace StreamMtl.Training.Teachers;

/// <summary>A teacher that cannot be used: a missing or malformed spec, a file ONNX Runtime cannot load, a shape the spec does not
/// describe, or a non-finite output. The message names the file (and the frame, for outputs).</summary>
public sealed class TeacherException(string message, Exception? inner = null) : Exception(message, inner);
