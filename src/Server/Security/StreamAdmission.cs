using StreamMtl.Ingest.Sources;
using StreamMtl.Pipeline.Inference;
using StreamMtl.Pipeline.Model;
using StreamMtl.Pipeline.Streams;

namespace StreamMtl.Server.Security;

/// <summary>The door's rules for a new stream, checked before the pipeline sees it: id, source allowlist, tasks, reuse settings.</summary>
public static class StreamAdmission
{
    /// <summary>Why <paramref name="definition"/> may not run here, or null; untrusted (API) URIs must pass the allowlist.</summary>
    public static Failure? Check(StreamDefinition definition, LoadedModel model, SourcePolicy policy, bool trusted)
    {
        if (!StreamIds.IsValid(definition.Id))
        {
            return Refuse($"stream id '{definition.Id}' must be {StreamIds.Rule}");
        }
        if (!trusted && policy.Check(definition.SourceUri) is { } denied)
        {
            return Refuse("source not allowed: " + denied);
        }
        if ((definition.Tasks & ~model.Tasks) != TaskSet.None)
        {
            return Refuse($"the model does not compute {(definition.Tasks & ~model.Tasks).Describe()}");
        }
        var reuseErrors = definition.Reuse.Validate();
        return reuseErrors.Count > 0 ? Refuse("invalid reuse settings: " + string.Join("; ", reuseErrors)) : null;
    }

    private static Failure Refuse(string message) => Failure.Invalid(UriRedactor.Redact(message));
}
