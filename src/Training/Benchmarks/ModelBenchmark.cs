using System.Diagnostics;
using StreamMtl.Pipeline.Model;
using static TorchSharp.torch;

namespace StreamMtl.Training.Benchmarks;

/// <summary>One configuration's timing in a <see cref="ModelBenchmark"/> run.</summary>
public sealed record ModelBenchmarkRow(string Name, double MedianMs, double P90Ms, double Gflops);

/// <summary>
/// Times dense forward passes of several task/sharing configurations in one process, interleaving them
/// round by round so machine noise hits all alike; ratios between rows are the meaningful output.
/// </summary>
public static class ModelBenchmark
{
    public static IReadOnlyList<ModelBenchmarkRow> Run(MultiTaskVit model, int width, int height, int batch, int rounds,
        IReadOnlyList<(string Name, ForwardOptions Options, bool BFloat16)> configurations)
    {
        var times = configurations.Select(_ => new List<double>()).ToArray();
        var flops = new double[configurations.Count];
        using var noGrad = no_grad();
        using var input = randn(batch, 3, height, width, generator: new Generator(7));
        for (int round = -2; round < rounds; round++)
        {
            for (int c = 0; c < configurations.Count; c++)
            {
                using var scope = NewDisposeScope();
                var counter = new FlopCounter();
                var clock = Stopwatch.StartNew();
                using (Autocast.BFloat16(configurations[c].BFloat16))
                {
                    using var result = model.Forward(input, configurations[c].Options, counter);
                    foreach (var task in result.Tasks)
                    {
                        result.Final(task).sum().item<float>();
                    }
                }
                clock.Stop();
                if (round >= 0)
                {
                    times[c].Add(clock.Elapsed.TotalMilliseconds / batch);
                    flops[c] = counter.ExecutedTotal / 1e9 / batch;
                }
            }
        }
        return configurations.Select((c, i) =>
        {
            var sorted = times[i].Order().ToArray();
            return new ModelBenchmarkRow(c.Name, sorted[sorted.Length / 2], sorted[(int)(sorted.Length * 0.9)], flops[i]);
        }).ToList();
    }
}
