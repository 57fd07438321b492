using StreamMtl.Ingest.Supervision;
using StreamMtl.Ingest.Sources;
using StreamMtl.Pipeline.Model;

namespace StreamMtl.Pipeline.Streams;

/// <summary>
/// A stream as added (from configuration or AddStream): immutable. <paramref name="Reconnect"/> null = the pipeline's
/// defaults. <paramref name="Egress"/> checks every connection an untrusted (API) source makes; null for trusted streams
/// from configuration.
/// </summary>
public sealed record StreamDefinition(string Id, string SourceUri, TaskSet Tasks, bool AlwaysOn, double MaxFps, ReuseSettings Reuse,
    int Width = 0, int Height = 0, SupervisorOptions? Reconnect = null, IEgressPolicy? Egress = null);
