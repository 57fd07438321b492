using StreamMtl.Ingest.Supervision;

namespace StreamMtl.Pipeline.Streams;

/// <summary>A camera stream at one moment: its definition, its source's state and its counters.</summary>
public sealed record StreamSnapshot(StreamDefinition Definition, StreamStatus Status, int Subscribers, long FramesIngested, long FramesProcessed,
    long FramesDropped);
