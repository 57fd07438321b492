namespace StreamMtl.Pipeline.Streams;

/// <summary>Why a pipeline request failed, in terms the door maps to its own status codes.</summary>
public enum FailureKind
{
    InvalidArgument,
    NotFound,
    AlreadyExists,
    ResourceExhausted,
    Unavailable,
    DeadlineExceeded,
    Internal,
}

/// <summary>An expected failure, returned as a value; <see cref="Message"/> is safe to show to the client.</summary>
public sealed record Failure(FailureKind Kind, string Message)
{
    public static Failure Invalid(string message) => new(FailureKind.InvalidArgument, message);
}

/// <summary>
/// A <see cref="Failure"/> that ends an asynchronous flow (a subscriber's queue, a write that timed out), where the
/// channel API carries an exception; the door maps <see cref="Failure"/> as for a returned value.
/// </summary>
public sealed class PipelineException(Failure failure) : Exception(failure.Message)
{
    public Failure Failure { get; } = failure;
}
