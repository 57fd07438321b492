namespace StreamMtl.Pipeline.Inference;

/// <summary>What the inference engine reports as it runs; the host exports it (the server: Prometheus).</summary>
public interface IInferenceMetrics
{
    /// <summary>The model is loaded and ready.</summary>
    void ModelLoaded(LoadedModel model);

    /// <summary>One wake-up of the inference thread ran <paramref name="frames"/> frames.</summary>
    void BatchRun(int frames);
}
