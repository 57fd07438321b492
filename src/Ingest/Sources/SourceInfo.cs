namespace StreamMtl.Ingest.Sources;

/// <summary>What a source reports about its frames; zero means "not known yet".</summary>
public sealed record SourceInfo(int Width, int Height, double Fps, long FrameCount = 0, bool IsLive = false);
