using StreamMtl.Ingest.Sources;
using StreamMtl.Ingest.Synthetic;
using StreamMtl.Server.Configuration;
using StreamMtl.Pipeline.Inference;
using StreamMtl.Pipeline.Model;
using StreamMtl.Pipeline.Streams;

namespace StreamMtl.Server.Security;

/// <summary>The door's rules for a new stream, checked before the pipeline sees it: id, source allowlist, tasks, reuse settings.</summary>
public static class StreamAdmission
{
    /// <summary>Why <paramref name="definition"/> may not run here, or null; untrusted (API) URIs must pass the allowlist.</summary>
    public static Failure? Check(StreamDefinition definition, LoadedModel model, SourcePolicy policy, LimitOptions limits, bool trusted)
    {
        if (!StreamIds.IsValid(definition.Id))
        {
            return Refuse($"stream id '{InputText.Echo(definition.Id)}' must be {StreamIds.Rule}");
        }
        if (!trusted && InputText.CheckUri(definition.SourceUri) is { } malformed)
        {
            return Refuse(malformed);
        }
        if (!trusted && policy.Check(definition.SourceUri) is { } denied)
        {
            return Refuse("source not allowed: " + denied);
        }
        if (!trusted && SyntheticCost(definition.SourceUri, limits) is { } tooCostly)
        {
            return new Failure(FailureKind.ResourceExhausted, tooCostly);
        }
        if ((definition.Tasks & ~model.Tasks) != TaskSet.None)
        {
            return Refuse($"the model does not compute {(definition.Tasks & ~model.Tasks).Describe()}");
        }
        var reuseErrors = definition.Reuse.Validate(model.Config);
        return reuseErrors.Count > 0 ? Refuse("invalid reuse settings: " + string.Join("; ", reuseErrors)) : null;
    }

    /// <summary>
    /// <see cref="Check"/>, then for an untrusted network source the address rule (a name resolving to an internal address
    /// is refused); the same failure kinds.
    /// </summary>
    public static async ValueTask<Failure?> CheckAsync(StreamDefinition definition, LoadedModel model, SourcePolicy policy, LimitOptions limits,
        bool trusted, CancellationToken cancellationToken)
    {
        if (Check(definition, model, policy, limits, trusted) is { } failure)
        {
            return failure;
        }
        return !trusted && await policy.CheckSourceAsync(definition.SourceUri, cancellationToken).ConfigureAwait(false) is { } denied
            ? Refuse("source not allowed: " + denied)
            : null;
    }

    /// <summary>The synthetic camera renders every frame on the CPU: from the API it may not ask for more than the source limits allow.</summary>
    private static string? SyntheticCost(string uri, LimitOptions limits)
    {
        if (StreamCost.Synthetic(uri) is not { } spec)
        {
            return null;
        }
        if (spec.Width > limits.MaxSourceWidth || spec.Height > limits.MaxSourceHeight)
        {
            return $"a synthetic camera of {spec.Width}x{spec.Height} is over Limits:MaxSourceWidth/Height ({limits.MaxSourceWidth}x{limits.MaxSourceHeight})";
        }
        return spec.Fps > limits.MaxSourceFps ? $"a synthetic camera at {spec.Fps} fps is over Limits:MaxSourceFps ({limits.MaxSourceFps})" : null;
    }

    private static Failure Refuse(string message) => Failure.Invalid(UriRedactor.Redact(message));
}
