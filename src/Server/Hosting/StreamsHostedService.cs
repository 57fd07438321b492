using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using StreamMtl.Pipeline.Model;
using StreamMtl.Server.Configuration;
using StreamMtl.Pipeline.Inference;
using StreamMtl.Pipeline.Streams;
using StreamMtl.Server.Security;

namespace StreamMtl.Server.Hosting;

/// <summary>
/// Loads the model and starts the declared streams at startup. Shutdown stops every stream in StoppingAsync, before
/// Kestrel starts draining, so subscriptions end (OK) at once instead of holding the server until its shutdown timeout.
/// </summary>
public sealed class StreamsHostedService(StreamRegistry registry, InferenceEngine engine, SourcePolicy policy, CostLedger ledger,
    IOptions<ServiceOptions> options)
    : IHostedLifecycleService
{
    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StoppingAsync(CancellationToken cancellationToken) => await registry.DisposeAsync();

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var declared in options.Value.StartDeclaredStreams ? options.Value.Streams : [])
        {
            var tasks = declared.Tasks.Length == 0 ? engine.Model.Tasks
                : declared.Tasks.Aggregate(TaskSet.None, (set, name) => VisionTasks.TryParse(name, out var t) ? set | t.ToSet() : set);
            var definition = new StreamDefinition(declared.Id, declared.Source, tasks, declared.AlwaysOn, declared.MaxFps, declared.Reuse,
                Reconnect: declared.Reconnect.IsDefault ? null : declared.Reconnect.ToSupervisor(options.Value.Pipeline.StallTimeout));
            var failure = StreamAdmission.Check(definition, engine.Model, policy, options.Value.Limits, trusted: true) ?? (await registry.AddAsync(definition)).Failure;
            // Trusted: charged to the node (API streams get what is left), never refused for cost.
            ledger.TryCharge(definition.Id, null, StreamCost.Of(definition, options.Value.Limits));
            if (failure != null)
            {
                throw new OptionsValidationException(ServiceOptions.Section, typeof(ServiceOptions), [$"Streams ({declared.Id}): {failure.Message}"]);
            }
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await registry.DisposeAsync();
        engine.Dispose();
    }
}
