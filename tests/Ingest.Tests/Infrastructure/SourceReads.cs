using StreamMtl.Ingest.Sources;

namespace StreamMtl.Ingest.Tests.Infrastructure;

internal static class SourceReads
{
    /// <summary>Reads (and disposes) up to <paramref name="wanted"/> frames, then disposes the source; the count read.</summary>
    public static async Task<int> CountAsync(IFrameSource source, int wanted)
    {
        var count = 0;
        await using (source)
        {
            await foreach (var frame in source.ReadAsync())
            {
                frame.Dispose();
                if (++count == wanted)
                {
                    break;
                }
            }
        }
        return count;
    }
}
