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
    public const string Help = """
        usage: streammtl watch --stream ID --out DIR|FILE.mp4 [options]

          --server URL     service address                       [http://127.0.0.1:50051]
          --stream ID      stream to subscribe to                [camera]
          --out PATH       a directory (one PNG per frame) or a .mp4/.avi file
          --tasks LIST     comma-separated tasks                 [all the stream serves]
          --size WxH       output size per panel                 [the model input size]
          --frames N       stop after N frames (0 = until Ctrl+C) [0]
          --api-key K      API key (metadata x-api-key)
        """;

    public static async Task<int> RunAsync(CliArgs args)
    {
        string server = args.String("server", "http://127.0.0.1:50051");
        string stream = args.String("stream", "camera");
        string output = args.String("out") ?? throw new CliException("--out DIR|FILE.mp4 is required");
        string? tasks = args.String("tasks");
        string? size = args.String("size");
        int limit = args.Int("frames", 0, 0);
        string? apiKey = args.String("api-key");
        args.EnsureAllUsed();

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
