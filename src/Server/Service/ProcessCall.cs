using System.Diagnostics;
using System.Threading.Channels;
using Grpc.Core;
using StreamMtl.Api.V1;
using StreamMtl.Pipeline.Inference;
using StreamMtl.Pipeline.Streams;
using StreamMtl.Server.Configuration;
using StreamMtl.Server.Metrics;

namespace StreamMtl.Server.Service;

/// <summary>
/// One Process call: frames from the client go through a wait-mode lane (at most ProcessInFlight results outstanding, so
/// a client sending too fast is slowed by HTTP/2 flow control, not buffered) and come back in order from one writer task.
/// </summary>
public sealed class ProcessCall(InferenceEngine engine, ServerMetrics metrics, ProcessSessions sessions, ServiceOptions options, TimeProvider time)
{
    /// <summary>Serves one Process call of <paramref name="client"/> (see <see cref="Security.ClientIdentity"/>).</summary>
    public async System.Threading.Tasks.Task RunAsync(string client, IAsyncStreamReader<ProcessRequest> requests, IServerStreamWriter<FrameResult> responses,
        CancellationToken cancellationToken)
    {
        if (!await requests.MoveNext(cancellationToken))
        {
            return;
        }
        var config = requests.Current.Config ?? throw ApiMapping.Invalid("the first Process message must be a config");
        string id = string.IsNullOrEmpty(config.StreamId) ? "process" : config.StreamId;
        if (!StreamIds.IsValid(id))
        {
            throw ApiMapping.Invalid($"stream_id '{Security.InputText.Echo(id)}' must be {StreamIds.Rule}");
        }
        var spec = ApiMapping.ToOutputSpec(config.Tasks, config.Encoding, config.OutputSize, engine.Model.Tasks, engine.Model, options.Limits, out var error)
            ?? throw ApiMapping.Invalid(error!);
        var reuse = ApiMapping.ToReuse(config.Reuse);
        var reuseErrors = reuse.Validate(engine.Model.Config);
        if (reuseErrors.Count > 0)
        {
            throw ApiMapping.Invalid("invalid reuse settings: " + string.Join("; ", reuseErrors));
        }
        if (sessions.TryEnter(client, options.Limits.MaxProcessSessions, options.Limits.MaxProcessSessionsPerClient) is { } full)
        {
            throw new RpcException(new Status(StatusCode.ResourceExhausted, full));
        }
        int inFlight = options.Pipeline.ProcessInFlight;
        var slots = new SemaphoreSlim(inFlight);
        var results = Channel.CreateBounded<InferenceOutput>(new BoundedChannelOptions(inFlight + 1) { SingleReader = true });
        using var lane = engine.OpenLane(id, reuse, inFlight, BoundedChannelFullMode.Wait, _ => { },
            output =>
            {
                if (!results.Writer.TryWrite(output))
                {
                    output.Dispose();
                }
            });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var writer = WriteAsync(id, spec, results.Reader, responses, slots, stop.Token);
        try
        {
            long next = 0;
            while (await requests.MoveNext(stop.Token))
            {
                var frameMessage = requests.Current.Frame ?? throw ApiMapping.Invalid("after the config, every Process message must be a frame");
                long index = frameMessage.Index != 0 ? frameMessage.Index : next;
                next = index + 1;
                var clock = Stopwatch.StartNew();
                using var frame = ClientFrameDecoder.TryDecode(frameMessage, index, time.GetUtcNow(), options.Limits, out error)
                    ?? throw ApiMapping.Invalid(error!);
                metrics.FrameIngested(id);
                var input = Preprocess.Resize(frame, engine.Model.InputWidth, engine.Model.InputHeight);
                var job = new InferenceJob(input, spec.Tasks, time.GetTimestamp(), clock.Elapsed) { Level = reuse.Level };
                try
                {
                    await slots.WaitAsync(stop.Token);
                    await lane.EnqueueAsync(job, stop.Token);
                }
                catch
                {
                    job.Dispose();
                    throw;
                }
                if (writer.IsCompleted)
                {
                    break;
                }
            }
            // Every frame sent gets its result before the call ends.
            for (int i = 0; i < inFlight && !writer.IsCompleted; i++)
            {
                await slots.WaitAsync(stop.Token);
            }
        }
        finally
        {
            results.Writer.TryComplete();
            await stop.CancelAsync();
            try
            {
                await writer;
            }
            catch (OperationCanceledException)
            {
            }
            finally
            {
                while (results.Reader.TryRead(out var left))
                {
                    left.Dispose();
                }
                sessions.Exit(client);
                metrics.StreamClosed(id);
            }
        }
    }

    private async System.Threading.Tasks.Task WriteAsync(string id, Pipeline.Results.OutputSpec spec, ChannelReader<InferenceOutput> results,
        IServerStreamWriter<FrameResult> responses, SemaphoreSlim slots, CancellationToken cancellationToken)
    {
        await foreach (var output in results.ReadAllAsync(cancellationToken))
        {
            using (output)
            {
                if (output.Analysis is null)
                {
                    throw new RpcException(new Status(StatusCode.Internal, "inference failed: " + output.Error));
                }
                ResultStage.Record(metrics, id, output);
                var result = ApiMapping.ToApi(ResultStage.Encode(metrics, id, output, spec), 0);
                try
                {
                    await TimedWrite.WithinAsync(responses.WriteAsync(result, cancellationToken), options.Pipeline.WriteTimeout, time, cancellationToken);
                }
                catch (PipelineException e)
                {
                    throw ApiMapping.ToRpc(e.Failure);
                }
                metrics.ResultsSent.WithLabels(id).Inc();
                slots.Release();
            }
        }
    }
}
