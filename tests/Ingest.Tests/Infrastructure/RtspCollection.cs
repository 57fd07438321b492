namespace StreamMtl.Ingest.Tests.Infrastructure;

/// <summary>Tests that run child processes share one clip and run one at a time, so process counts are theirs alone.</summary>
[CollectionDefinition(Name)]
public sealed class RtspCollection : ICollectionFixture<TestClip>
{
    public const string Name = "rtsp";
}
