using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using StreamMtl.Pipeline.Model;
using StreamMtl.Server.Configuration;
using StreamMtl.Server.Inference;
using StreamMtl.Server.Streams;

namespace StreamMtl.Server.Hosting;

/// <summary>Loads the model and starts the declared streams at startup; on shutdown stops every stream, which completes all subscribers.</summary>
public sealed class StreamsHostedService(StreamRegistry registry, InferenceEngine engine, IOptions<ServiceOptions> options) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var declared in options.Value.StartDeclaredStreams ? options.Value.Streams : [])
        {
            var tasks = declared.Tasks.Length == 0 ? engine.Model.Tasks
                : declared.Tasks.Aggregate(TaskSet.None, (set, name) => VisionTasks.TryParse(name, out var t) ? set | t.ToSet() : set);
            registry.Add(new StreamDefinition(declared.Id, declared.Source, tasks, declared.AlwaysOn, declared.MaxFps, declared.Reuse), trusted: true);
        }
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await registry.DisposeAsync();
        engine.Dispose();
    }
}
