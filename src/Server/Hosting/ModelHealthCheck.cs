using Microsoft.Extensions.Diagnostics.HealthChecks;
using StreamMtl.Pipeline.Inference;

namespace StreamMtl.Server.Hosting;

/// <summary>Ready once the model is loaded (the engine is created at startup, so resolving it is the check).</summary>
public sealed class ModelHealthCheck(InferenceEngine engine) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(HealthCheckResult.Healthy($"model {engine.Model.Version}"));
}
