namespace StreamMtl.Server.Soak;

/// <summary>A stream the soaked service declares (id and source URI), with one subscriber in the soak.</summary>
public sealed record SoakStream(string Id, string Source);
