using System.CommandLine;
using System.Diagnostics;
using Grpc.Core;
using Grpc.Net.Client;
using OpenCvSharp;
using StreamMtl.Api.V1;
using ApiTask = StreamMtl.Api.V1.Task;

namespace StreamMtl.Server.Cli;

/// <summary>streammtl watch: subscribes to a stream and writes input | segmentation | depth | normals side by side, with fps and FLOPs saved.</summary>
public static class WatchCommand
{
    private static readonly Option<string> Server = CliOptions.Text("--server", "URL", "service address", "http://127.0.0.1:50051");
    private static readonly Option<string> Stream = CliOptions.Text("--stream", "ID", "stream to subscribe to", "camera");
    private static readonly Option<string?> Out = CliOptions.OptionalText("--out", "PATH", "a directory (one PNG per frame) or a .mp4/.avi file; required");
    private static readonly Option<string?> Tasks = CliOptions.OptionalText("--tasks", "LIST", "comma-separated tasks [default: all the stream serves]");
    private static readonly Option<string?> Size = CliOptions.OptionalText("--size", "WxH", "output size per panel [default: the model input size]");
    private static readonly Option<int> Frames = CliOptions.Int("--frames", "stop after N frames (0 = until Ctrl+C)", 0, min: 0);
    private static readonly Option<string?> ApiKey = CliOptions.OptionalText("--api-key", "K", "API key (metadata x-api-key)");

    /// <summary>The watch command with its options; its body is <see cref="RunAsync"/>.</summary>
    internal static Command Create() => CliOptions.Command("watch", "subscribe to a stream and write colour-mapped results side by side with the input",
        RunAsync, Server, Stream, Out, Tasks, Size, Frames, ApiKey);

    public static async Task<int> RunAsync(ParseResult args)
    {
        string server = args.GetRequiredValue(Server);
        string stream = args.GetRequiredValue(Stream);
        string output = args.GetValue(Out) ?? throw new CliException("--out DIR|FILE.mp4 is required");
        string? tasks = args.GetValue(Tasks);
        string? size = args.GetValue(Size);
        int limit = args.GetValue(Frames);
        string? apiKey = args.GetValue(ApiKey);

        using var channel = GrpcChannel.ForAddress(server);
        var client = new VisionService.VisionServiceClient(channel);
        var headers = new Metadata();
        if (apiKey != null)
        {
            headers.Add("x-api-key", apiKey);
        }
        using var cts = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) => { e.Cancel = true; cts.Cancel(); };
        var model = await client.GetModelInfoAsync(new GetModelInfoRequest(), headers, cancellationToken: cts.Token);
        var request = new SubscribeRequest { StreamId = stream, Encoding = new StreamMtl.Api.V1.Encoding { IncludeInput = true } };
        if (tasks != null)
        {
            foreach (var name in tasks.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                request.Tasks.Add(name.ToLowerInvariant() switch
                {
                    "segmentation" or "seg" => ApiTask.Segmentation,
                    "depth" => ApiTask.Depth,
                    "normals" => ApiTask.Normals,
                    _ => throw new CliException($"unknown task '{name}'"),
                });
            }
        }
        if (size != null)
        {
            var (w, h) = Sizes.Parse(size);
            request.OutputSize = new StreamMtl.Api.V1.Size { Width = w, Height = h };
        }
        using var sink = WatchSink.Open(output);
        var palette = Palette.FromModel(model);
        var clock = Stopwatch.StartNew();
        var recent = new Queue<double>();
        int written = 0;
        try
        {
            using var call = client.Subscribe(request, headers, cancellationToken: cts.Token);
            await foreach (var result in call.ResponseStream.ReadAllAsync(cts.Token))
            {
                double now = clock.Elapsed.TotalSeconds;
                recent.Enqueue(now);
                while (recent.Count > 16)
                {
                    recent.Dequeue();
                }
                double fps = recent.Count > 1 ? (recent.Count - 1) / (now - recent.Peek()) : 0;
                using var panel = Panels.Compose(result, palette, fps);
                sink.Write(panel, result.FrameIndex);
                Console.Write($"\rframe {result.FrameIndex,7}  {fps,5:F1} fps  FLOPs saved {result.Accounting.FlopsSavedRatio * 100,5:F1}%  dropped {result.DroppedForSubscriber}   ");
                if (limit > 0 && ++written >= limit)
                {
                    break;
                }
            }
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.Cancelled && cts.IsCancellationRequested)
        {
        }
        catch (RpcException e)
        {
            Console.Error.WriteLine($"\nstreammtl watch: {e.StatusCode}: {e.Status.Detail}");
            return 1;
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
        }
        Console.WriteLine();
        return 0;
    }
}
