namespace StreamMtl.Ingest.Network;

/// <summary>A connection the egress proxy refused: the target asked for and the policy's reason.</summary>
public sealed record EgressRefusal(string Host, int Port, string Reason);
