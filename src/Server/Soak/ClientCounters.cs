namespace StreamMtl.Server.Soak;

/// <summary>The soak clients' troubles: resubscriptions per stream, Process calls made and failed, and the last error seen.</summary>
public sealed record ClientCounters(IReadOnlyList<int> Resubscribes, int ProcessCalls, int ProcessErrors, string? LastError);
