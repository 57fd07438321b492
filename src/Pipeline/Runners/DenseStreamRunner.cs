using System.Diagnostics;
using StreamMtl.Pipeline.Model;
using static TorchSharp.torch;

namespace StreamMtl.Pipeline.Runners;

/// <summary>A runner without temporal reuse: every frame is computed in full (with optional sub-task activation sharing).</summary>
public sealed class DenseStreamRunner : IStreamRunner
{
    private readonly MultiTaskVit _model;
    private readonly float _shareThreshold;

    public DenseStreamRunner(MultiTaskVit model, float shareThreshold = 0f)
    {
        _model = model;
        _shareThreshold = shareThreshold;
    }

    public FrameAnalysis Run(Tensor input, long frameIndex, TaskSet tasks)
    {
        var clock = Stopwatch.StartNew();
        var counter = new FlopCounter();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        using var result = _model.Forward(input, new ForwardOptions(tasks, _shareThreshold), counter);
        var outputs = Predictions.From(result);
        var accounting = FrameAccounting.FromCounter(counter, result.Tasks, [], keyframe: true, "dense");
        return new FrameAnalysis(frameIndex, outputs, accounting, clock.Elapsed);
    }

    public void Reset()
    {
    }

    public void Dispose()
    {
    }
}
