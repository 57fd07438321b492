namespace StreamMtl.Pipeline.Model;

/// <summary>Tokens recomputed at one gated layer of one task in one frame.</summary>
public sealed record LayerTokens(VisionTask Task, string Layer, int Recomputed, int Total);
