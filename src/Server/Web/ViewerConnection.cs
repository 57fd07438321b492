using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Grpc.Core;
using StreamMtl.Api.V1;
using Task = System.Threading.Tasks.Task;
using StreamMtl.Pipeline.Streams;
using StreamMtl.Server.Metrics;
using StreamMtl.Server.Service;

namespace StreamMtl.Server.Web;

/// <summary>
/// One page's WebSocket: the page sends what it shows as JSON text (<c>{"show":{"cam1":["segmentation","depth"]}}</c>,
/// the whole wanted state each time; a stream left out is unsubscribed), the server subscribes each stream through
/// <see cref="StreamCommands.Subscribe"/> (the gRPC Subscribe path, only the tasks shown) and sends every result as a
/// <see cref="ViewerMessage"/> through one drop-oldest <see cref="ViewerQueue"/>. Notices go the same way as JSON text:
/// <c>{"type":"error"|"ended","stream":..,"message":..}</c>.
/// </summary>
public sealed class ViewerConnection(WebSocket socket, StreamCommands commands, ServerMetrics metrics, int queueCapacity, int maxMessageBytes,
    TimeSpan writeTimeout, TimeProvider time)
{
    private readonly ViewerQueue _queue = new(queueCapacity);
    private readonly Dictionary<string, Subscription> _subscriptions = new(StringComparer.Ordinal);

    private sealed record Subscription(string Tasks, CameraStream Stream, Subscriber Subscriber, CancellationTokenSource Stop, Task Pump);

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var writer = WriteAsync(linked.Token);
        try
        {
            await ReadAsync(linked.Token);
        }
        finally
        {
            foreach (var id in _subscriptions.Keys.ToList())
            {
                await StopAsync(id);
            }
            _queue.Complete();
            await linked.CancelAsync();
            try
            {
                await writer;
            }
            catch (Exception e) when (e is OperationCanceledException or WebSocketException or ObjectDisposedException or PipelineException)
            {
                // The page went away while a frame was on its way.
            }
        }
    }

    private async Task ReadAsync(CancellationToken cancellationToken)
    {
        var buffer = new byte[maxMessageBytes];
        while (socket.State == WebSocketState.Open)
        {
            int length = 0;
            ValueWebSocketReceiveResult received;
            do
            {
                if (length == buffer.Length)
                {
                    await socket.CloseAsync(WebSocketCloseStatus.MessageTooBig, $"messages are at most {maxMessageBytes} bytes", cancellationToken);
                    return;
                }
                received = await socket.ReceiveAsync(buffer.AsMemory(length), cancellationToken);
                length += received.Count;
            }
            while (!received.EndOfMessage && received.MessageType != WebSocketMessageType.Close);
            if (received.MessageType == WebSocketMessageType.Close)
            {
                await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, cancellationToken);
                return;
            }
            if (ParseShow(buffer.AsSpan(0, length), out var error) is { } show)
            {
                await ApplyAsync(show);
            }
            else
            {
                Notice("error", null, error!);
            }
        }
    }

    /// <summary>The wanted streams and tasks from a page message, or null with what is wrong.</summary>
    public static Dictionary<string, List<Api.V1.Task>>? ParseShow(ReadOnlySpan<byte> json, out string? error)
    {
        error = null;
        try
        {
            if (JsonNode.Parse(json) is not JsonObject { } root || root["show"] is not JsonObject show)
            {
                error = "expected {\"show\": {\"<stream id>\": [\"segmentation\", \"depth\", \"normals\"]}}";
                return null;
            }
            var wanted = new Dictionary<string, List<Api.V1.Task>>(StringComparer.Ordinal);
            foreach (var (id, tasks) in show)
            {
                if (tasks is not JsonArray array || WebJson.ToTasks(array, out error) is not { } list)
                {
                    error ??= $"stream '{Security.InputText.Echo(id)}': expected an array of task names";
                    return null;
                }
                wanted[id] = list;
            }
            return wanted;
        }
        catch (JsonException e)
        {
            error = "bad JSON: " + e.Message;
            return null;
        }
    }

    private async Task ApplyAsync(Dictionary<string, List<Api.V1.Task>> show)
    {
        foreach (var id in _subscriptions.Keys.Where(id => !show.ContainsKey(id)).ToList())
        {
            await StopAsync(id);
        }
        foreach (var (id, tasks) in show)
        {
            string key = string.Join(",", tasks.Order());
            if (_subscriptions.TryGetValue(id, out var current))
            {
                if (current.Tasks == key && !current.Pump.IsCompleted)
                {
                    continue;
                }
                await StopAsync(id);
            }
            if (tasks.Count == 0)
            {
                continue;
            }
            try
            {
                var request = new SubscribeRequest { StreamId = id, Encoding = new Api.V1.Encoding { IncludeInput = true } };
                request.Tasks.AddRange(tasks);
                var (stream, subscriber) = commands.Subscribe(request);
                var stop = new CancellationTokenSource();
                // A new subscription starts from full messages: the page may have dropped what it showed of this stream.
                var sent = new UnchangedOutputs();
                _subscriptions[id] = new Subscription(key, stream, subscriber, stop, PumpAsync(stream, subscriber, sent, stop.Token));
            }
            catch (RpcException e)
            {
                Notice("error", id, e.Status.Detail);
            }
        }
    }

    private async Task PumpAsync(CameraStream stream, Subscriber subscriber, UnchangedOutputs sent, CancellationToken cancellationToken)
    {
        await System.Threading.Tasks.Task.Yield();
        try
        {
            // The write only queues (drop-oldest): the socket's pace never reaches the subscriber or the pipeline. The message
            // is made when it is sent, so an output is left out as unchanged only if the page got it in a frame sent before.
            await subscriber.PumpAsync((result, dropped, _) =>
            {
                _queue.Offer(new ViewerQueue.Item(() =>
                {
                    var message = ViewerMessage.Encode(result, dropped + _queue.Dropped, sent);
                    metrics.ResultsSent.WithLabels(stream.Id).Inc();
                    metrics.ResultBytes.WithLabels(stream.Id).Inc(message.Length);
                    return message;
                }, Text: false));
                return System.Threading.Tasks.Task.CompletedTask;
            }, Timeout.InfiniteTimeSpan, time, cancellationToken);
            Notice("ended", stream.Id, "the stream ended");
        }
        catch (PipelineException e)
        {
            Notice("ended", stream.Id, e.Failure.Message);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Unsubscribed by the page.
        }
    }

    private async Task StopAsync(string id)
    {
        if (!_subscriptions.Remove(id, out var subscription))
        {
            return;
        }
        await subscription.Stop.CancelAsync();
        await subscription.Pump;
        subscription.Stream.Unsubscribe(subscription.Subscriber, null);
        subscription.Stop.Dispose();
    }

    private void Notice(string type, string? stream, string message)
    {
        byte[] json = JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, string?>
        {
            ["type"] = type,
            ["stream"] = stream,
            ["message"] = message,
        });
        _queue.Offer(new ViewerQueue.Item(() => json, Text: true));
    }

    private async Task WriteAsync(CancellationToken cancellationToken)
    {
        try
        {
            await WriteAllAsync(cancellationToken);
        }
        catch (PipelineException)
        {
            // Too slow to take a message: end the connection (the reader then unsubscribes everything); the page reconnects.
            socket.Abort();
            throw;
        }
    }

    private async Task WriteAllAsync(CancellationToken cancellationToken)
    {
        await foreach (var item in _queue.ReadAllAsync(cancellationToken))
        {
            // A page that stops reading (a frozen tab, a dead link) is closed rather than holding its queue for ever.
            await TimedWrite.WithinAsync(socket.SendAsync(item.Message(), item.Text ? WebSocketMessageType.Text : WebSocketMessageType.Binary, true,
                cancellationToken), writeTimeout, time, cancellationToken);
        }
    }
}
