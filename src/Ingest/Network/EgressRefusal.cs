namespace StreamMtl.Ingest.Network;

/// <summary>A connection the egress proxy refused: the target asked for, the policy's reason, and whether it may pass later.</summary>
public sealed record EgressRefusal(string Host, int Port, string Reason, bool Transient);
