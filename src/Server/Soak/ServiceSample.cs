namespace StreamMtl.Server.Soak;

/// <summary>One sample of a service soak: the service's figures and what the clients had received so far.</summary>
/// <param name="StreamFrames">Results received so far by the subscriber of each stream, in the order of the soak's streams.</param>
/// <param name="ProcessReplies">Results received so far by the Process client.</param>
public sealed record ServiceSample(TimeSpan Elapsed, long RssBytes, int FileDescriptors, int Threads, IReadOnlyList<long> StreamFrames, long ProcessReplies)
{
    public double RssMiB => RssBytes / 1048576.0;
}
