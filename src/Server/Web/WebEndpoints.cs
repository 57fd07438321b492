using System.Text.Json.Nodes;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using StreamMtl.Api.V1;
using Task = System.Threading.Tasks.Task;
using StreamMtl.Pipeline.Results;
using StreamMtl.Pipeline.Streams;
using StreamMtl.Server.Configuration;
using StreamMtl.Server.Metrics;
using StreamMtl.Server.Service;

namespace StreamMtl.Server.Web;

/// <summary>
/// The web view on the HTTP port: the embedded page (/, /app.js, /app.css), login/logout, a JSON API over the same
/// commands as gRPC (/api/model, /api/streams, add, remove, snapshot.png) and the viewer WebSocket (/ws).
/// </summary>
public static class WebEndpoints
{
    /// <summary>Paths whose calls start work (a stream, a subscription, a session); they share gRPC's per-client rate limit.</summary>
    public static bool IsLimited(HttpRequest request) =>
        request.Path == "/ws" || request.Path == "/login" || request.Path.Value?.EndsWith("/snapshot.png", StringComparison.Ordinal) == true
        || (request.Path.StartsWithSegments("/api/streams") && (HttpMethods.IsPost(request.Method) || HttpMethods.IsDelete(request.Method)));

    public static RouteGroupBuilder MapStreamMtlWeb(this WebApplication app)
    {
        var web = app.MapGroup("");
        web.MapGet("/", () => Static("index.html", "text/html; charset=utf-8"));
        web.MapGet("/app.js", () => Static("app.js", "text/javascript; charset=utf-8"));
        web.MapGet("/app.css", () => Static("app.css", "text/css; charset=utf-8"));
        web.MapPost("/login", async (HttpContext context, WebAccess access) =>
        {
            var form = context.Request.HasFormContentType ? await context.Request.ReadFormAsync(context.RequestAborted) : null;
            if (!WebAccess.SameOrigin(context.Request) || access.Login(form?["key"].FirstOrDefault()) is not { } token)
            {
                return Results.Redirect("/#login-failed", preserveMethod: false);
            }
            WebAccess.SetCookie(context, token);
            return Results.Redirect("/", preserveMethod: false);
        });
        web.MapPost("/logout", (HttpContext context, WebAccess access) =>
        {
            access.Logout(context);
            return Results.Redirect("/", preserveMethod: false);
        });
        var api = web.MapGroup("/api").AddEndpointFilter(async (filter, next) =>
        {
            var context = filter.HttpContext;
            var access = context.RequestServices.GetRequiredService<WebAccess>();
            if (access.ClientOf(context) is null)
            {
                return Error(StatusCodes.Status401Unauthorized, "log in with an API key first");
            }
            if (!HttpMethods.IsGet(context.Request.Method) && !WebAccess.SameOrigin(context.Request))
            {
                return Error(StatusCodes.Status403Forbidden, "cross-origin request refused");
            }
            return await next(filter);
        });
        api.MapGet("/model", (StreamCommands commands) => Json(WebJson.Of(commands.ModelInfo())));
        api.MapGet("/streams", (StreamRegistry streams) =>
        {
            var list = new ListStreamsResponse();
            list.Streams.AddRange(streams.All.Select(s => ApiMapping.ToApi(s.Snapshot())));
            return Json(WebJson.Of(list));
        });
        // On a cluster node adds and removes go through the cluster's registry (the stream may be placed on another node;
        // the answer names it); the list and the live view are this node's streams.
        api.MapPost("/streams", async (HttpContext context, StreamCommands commands, WebAccess access) =>
        {
            using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body, context.RequestAborted);
            if (body.Length > 64 * 1024)
            {
                return Error(StatusCodes.Status400BadRequest, "request body over 64 KiB");
            }
            var json = WebJson.Parse(body.GetBuffer().AsSpan(0, (int)body.Length), out var error);
            if (json is null || WebJson.ToAddStream(json, out error) is not { } request)
            {
                return Error(StatusCodes.Status400BadRequest, error ?? "expected a JSON object");
            }
            string client = access.ClientOf(context)!;
            var cluster = context.RequestServices.GetService<IClusterFrontDoor>();
            return await Command(async () => Json(WebJson.Of(cluster is not null
                ? await cluster.AddAsync(request, client, null)
                : await commands.AddAsync(request, client, context.RequestAborted)), 201));
        });
        api.MapDelete("/streams/{id}", (string id, HttpContext context, StreamCommands commands) =>
            Command(async () =>
            {
                await (context.RequestServices.GetService<IClusterFrontDoor>() is { } cluster ? cluster.RemoveAsync(id) : commands.RemoveAsync(id));
                return Results.NoContent();
            }));
        api.MapGet("/streams/{id}/snapshot.png", (string id, string? layers, HttpContext context, StreamCommands commands,
            IOptions<ServiceOptions> options) => SnapshotAsync(id, layers, commands, options.Value, context.RequestAborted));
        web.Map("/ws", ViewerAsync);
        return web;
    }

    private static async Task ViewerAsync(HttpContext context, WebAccess access, ViewerSlots slots, StreamCommands commands, ServerMetrics metrics,
        IOptions<ServiceOptions> options, TimeProvider time)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            await Error(StatusCodes.Status400BadRequest, "expected a WebSocket upgrade").ExecuteAsync(context);
            return;
        }
        if (!WebAccess.SameOrigin(context.Request))
        {
            await Error(StatusCodes.Status403Forbidden, "cross-origin WebSocket refused").ExecuteAsync(context);
            return;
        }
        if (access.ClientOf(context) is null)
        {
            await Error(StatusCodes.Status401Unauthorized, "log in with an API key first").ExecuteAsync(context);
            return;
        }
        if (!slots.TryTake())
        {
            await Error(StatusCodes.Status429TooManyRequests, $"too many web viewers: at most {slots.Max} (Limits:MaxWebViewers)").ExecuteAsync(context);
            return;
        }
        try
        {
            using var socket = await context.WebSockets.AcceptWebSocketAsync();
            var service = options.Value;
            await new ViewerConnection(socket, commands, metrics, queueCapacity: 8, maxMessageBytes: 16 * 1024, service.Pipeline.WriteTimeout, time)
                .RunAsync(context.RequestAborted);
        }
        catch (Exception e) when (e is OperationCanceledException or System.Net.WebSockets.WebSocketException or IOException)
        {
            // The page closed or the connection dropped.
        }
        finally
        {
            slots.Release();
        }
    }

    private static async Task<IResult> SnapshotAsync(string id, string? layerText, StreamCommands commands, ServiceOptions options,
        CancellationToken cancellationToken)
    {
        if (Snapshot.ParseLayers(layerText, out var layerError) is not { } layers)
        {
            return Error(StatusCodes.Status400BadRequest, layerError!);
        }
        return await Command(async () =>
        {
            var (stream, subscriber) = commands.Subscribe(Snapshot.Request(id, layers));
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            wait.CancelAfter(options.Pipeline.StallTimeout);
            EncodedResult? first = null;
            try
            {
                await subscriber.PumpAsync((result, _, _) =>
                {
                    first = result;
                    subscriber.Complete();
                    return Task.CompletedTask;
                }, Timeout.InfiniteTimeSpan, TimeProvider.System, wait.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                // No result within the stall timeout: answered below.
            }
            finally
            {
                stream.Unsubscribe(subscriber, null);
            }
            if (first is null)
            {
                return Error(StatusCodes.Status503ServiceUnavailable, $"stream '{id}' produced no result within {options.Pipeline.StallTimeout.TotalSeconds:0} s");
            }
            var colors = commands.ModelInfo().Classes.Select(c => c.Color).ToList();
            return Results.File(Snapshot.Render(first, layers, colors), "image/png");
        });
    }

    /// <summary>Runs a command; its <see cref="RpcException"/> becomes the HTTP status with the same message as gRPC gives.</summary>
    private static async Task<IResult> Command(Func<Task<IResult>> command)
    {
        try
        {
            return await command();
        }
        catch (RpcException e)
        {
            return Error(HttpStatus(e.StatusCode), e.Status.Detail);
        }
    }

    public static int HttpStatus(StatusCode code) => code switch
    {
        StatusCode.InvalidArgument or StatusCode.FailedPrecondition or StatusCode.OutOfRange => StatusCodes.Status400BadRequest,
        StatusCode.Unauthenticated => StatusCodes.Status401Unauthorized,
        StatusCode.PermissionDenied => StatusCodes.Status403Forbidden,
        StatusCode.NotFound => StatusCodes.Status404NotFound,
        StatusCode.AlreadyExists => StatusCodes.Status409Conflict,
        StatusCode.ResourceExhausted => StatusCodes.Status429TooManyRequests,
        StatusCode.Unavailable => StatusCodes.Status503ServiceUnavailable,
        StatusCode.DeadlineExceeded => StatusCodes.Status504GatewayTimeout,
        _ => StatusCodes.Status500InternalServerError,
    };

    private static IResult Error(int status, string message) =>
        Results.Json(new JsonObject { ["error"] = message }, statusCode: status);

    private static IResult Json(string json, int status = 200) => Results.Content(json, "application/json", System.Text.Encoding.UTF8, status);

    private static IResult Static(string name, string contentType)
    {
        using var resource = typeof(WebEndpoints).Assembly.GetManifestResourceStream("web/" + name)
            ?? throw new InvalidOperationException($"web/{name} is not embedded in the server");
        using var copy = new MemoryStream();
        resource.CopyTo(copy);
        return Results.Bytes(copy.ToArray(), contentType);
    }
}
