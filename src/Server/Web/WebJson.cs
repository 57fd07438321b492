using System.Text.Json;
using System.Text.Json.Nodes;
using StreamMtl.Api.V1;

namespace StreamMtl.Server.Web;

/// <summary>The web view's JSON: task names, the add-stream form, stream and model info (the gRPC messages' JSON mapping).</summary>
public static class WebJson
{
    private static readonly Google.Protobuf.JsonFormatter Formatter = new(Google.Protobuf.JsonFormatter.Settings.Default.WithFormatDefaultValues(true));

    /// <summary>Task names ("segmentation", "depth", "normals", any case) as API tasks, or null with the bad name.</summary>
    public static List<Api.V1.Task>? ToTasks(JsonArray names, out string? error)
    {
        error = null;
        var tasks = new List<Api.V1.Task>();
        foreach (var name in names)
        {
            string? text = name is JsonValue value && value.TryGetValue<string>(out var s) ? s : null;
            if (text is null || !Enum.TryParse<Api.V1.Task>(text, ignoreCase: true, out var task) || task == Api.V1.Task.Unspecified
                || !Enum.IsDefined(task))
            {
                error = $"unknown task '{Security.InputText.Echo(name?.ToJsonString())}' (segmentation, depth, normals)";
                return null;
            }
            if (!tasks.Contains(task))
            {
                tasks.Add(task);
            }
        }
        return tasks;
    }

    /// <summary>An AddStream request from the page's form: <c>{"id", "uri", "tasks": [..], "alwaysOn", "maxFps", "reuse": {..}}</c>; null with what is wrong.</summary>
    public static AddStreamRequest? ToAddStream(JsonNode? body, out string? error)
    {
        error = null;
        if (body is not JsonObject form)
        {
            error = "expected a JSON object {\"id\", \"uri\", \"tasks\", \"alwaysOn\", \"maxFps\"}";
            return null;
        }
        try
        {
            var request = new AddStreamRequest
            {
                Id = form["id"]?.GetValue<string>() ?? "",
                SourceUri = form["uri"]?.GetValue<string>() ?? "",
                AlwaysOn = form["alwaysOn"]?.GetValue<bool>() ?? false,
                MaxFps = form["maxFps"]?.GetValue<double>() ?? 0,
            };
            if (form["reuse"] is JsonObject reuse)
            {
                // The API message's own JSON form: {"dense", "threshold", "budget", "keyframeInterval", "sceneCutLimit", "shareThreshold",
                // "computeBudget", "computeBudgetFloor", "fullKeyframes", ...}.
                request.Reuse = Google.Protobuf.JsonParser.Default.Parse<ReuseSettings>(reuse.ToJsonString());
            }
            else if (form["reuse"] is not null)
            {
                error = "reuse must be an object {\"dense\", \"threshold\", \"budget\", \"keyframeInterval\", ...}";
                return null;
            }
            if (form["tasks"] is JsonArray names)
            {
                if (ToTasks(names, out error) is not { } tasks)
                {
                    return null;
                }
                request.Tasks.AddRange(tasks);
            }
            else if (form["tasks"] is not null)
            {
                error = "tasks must be an array of task names";
                return null;
            }
            return request;
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException or Google.Protobuf.InvalidProtocolBufferException)
        {
            error = "bad field type: " + e.Message;
            return null;
        }
    }

    /// <summary>A protobuf message as its canonical JSON (camelCase fields, enums by name, defaults included).</summary>
    public static string Of(Google.Protobuf.IMessage message) => Formatter.Format(message);

    public static JsonNode? Parse(ReadOnlySpan<byte> json, out string? error)
    {
        error = null;
        try
        {
            return JsonNode.Parse(json);
        }
        catch (JsonException e)
        {
            error = "bad JSON: " + e.Message;
            return null;
        }
    }
}
