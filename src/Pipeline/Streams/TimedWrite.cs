namespace StreamMtl.Pipeline.Streams;

/// <summary>
/// A write to a client that must finish within a time limit: a client that stops reading is dropped instead of
/// holding its results (and the memory behind them) for ever. Shared by subscribers and client-fed streams.
/// </summary>
public static class TimedWrite
{
    /// <summary>Awaits <paramref name="write"/>; throws <see cref="PipelineException"/> (DeadlineExceeded) when it takes longer than <paramref name="timeout"/>.</summary>
    public static async Task WithinAsync(Task write, TimeSpan timeout, TimeProvider time, CancellationToken cancellationToken)
    {
        try
        {
            await write.WaitAsync(timeout, time, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            throw new PipelineException(new Failure(FailureKind.DeadlineExceeded,
                $"client did not accept a result within {timeout.TotalSeconds:0.#} s: dropped"));
        }
    }
}
