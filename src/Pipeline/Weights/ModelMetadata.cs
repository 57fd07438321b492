using System.Text.Json;
using System.Text.Json.Serialization;
using StreamMtl.Pipeline.Model;

namespace StreamMtl.Pipeline.Weights;

/// <summary>What a model file says about itself, stored as JSON under the safetensors metadata key "streammtl".</summary>
public sealed record ModelMetadata
{
    public const string Key = "streammtl";
    public const string CurrentFormat = "streammtl-mtvit/1";

    public string Format { get; init; } = CurrentFormat;

    public required ModelConfig Config { get; init; }

    public required string[] Classes { get; init; }

    /// <summary>Each training stage that produced these weights, in order.</summary>
    public List<TrainingRecord> Training { get; init; } = [];

    /// <summary>Evaluation figures recorded with the weights (name -> value).</summary>
    public Dictionary<string, double> Metrics { get; init; } = [];

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = false,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public static ModelMetadata FromJson(string json) =>
        JsonSerializer.Deserialize<ModelMetadata>(json, Json) ?? throw new JsonException("metadata is null");
}

/// <summary>One training stage: what was trained, how long, on what data, and how it ended.</summary>
public sealed record TrainingRecord(
    string Stage,
    string Task,
    int Steps,
    int Batch,
    string Crop,
    int Seed,
    long FramesRendered,
    double Seconds,
    double FinalLoss,
    string Data);
