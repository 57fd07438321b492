using System.Diagnostics;
using StreamMtl.Pipeline.Model;
using static TorchSharp.torch;

namespace StreamMtl.Training.Benchmarks;

/// <summary>
/// One configuration's timing in a <see cref="ModelBenchmark"/> run: <paramref name="GflopsPerSecond"/> is the executed
/// GFLOPs over the median time, <paramref name="GemmShare"/> that rate over the run's float32 GEMM rate.
/// </summary>
public sealed record ModelBenchmarkRow(string Name, double MedianMs, double P90Ms, double Gflops, double GflopsPerSecond, double GemmShare);

/// <summary>The rows of a <see cref="ModelBenchmark"/> run and the GEMM rate measured between them (median, GFLOP/s).</summary>
public sealed record ModelBenchmarkResult(IReadOnlyList<ModelBenchmarkRow> Rows, double GemmGflopsPerSecond);

/// <summary>
/// Times dense forward passes of several task/sharing configurations in one process, interleaving them
/// round by round so machine noise hits all alike; ratios between rows are the meaningful output. Each round
/// also times a <see cref="GemmSize"/>^3 float32 matrix product on the same threads: the rate the machine's
/// BLAS reaches on a large product, which the model's rows are measured against.
/// </summary>
public static class ModelBenchmark
{
    public const int GemmSize = 1024;

    public static ModelBenchmarkResult Run(MultiTaskVit model, int width, int height, int batch, int rounds,
        IReadOnlyList<(string Name, ForwardOptions Options, bool BFloat16)> configurations)
    {
        var times = configurations.Select(_ => new List<double>()).ToArray();
        var gemmTimes = new List<double>();
        var flops = new double[configurations.Count];
        using var noGrad = no_grad();
        using var input = randn(batch, 3, height, width, generator: new Generator(7));
        using var left = randn(GemmSize, GemmSize, generator: new Generator(8));
        using var right = randn(GemmSize, GemmSize, generator: new Generator(9));
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
            var gemm = Stopwatch.StartNew();
            using (var product = left.matmul(right))
            {
                gemm.Stop();
            }
            if (round >= 0)
            {
                gemmTimes.Add(gemm.Elapsed.TotalMilliseconds);
            }
        }
        double gemmRate = 2.0 * GemmSize * GemmSize * GemmSize / 1e6 / Median(gemmTimes);
        var rows = configurations.Select((c, i) =>
        {
            var sorted = times[i].Order().ToArray();
            double median = sorted[sorted.Length / 2];
            double rate = flops[i] * 1e3 / median;
            return new ModelBenchmarkRow(c.Name, median, sorted[(int)(sorted.Length * 0.9)], flops[i], rate, rate / gemmRate);
        }).ToList();
        return new ModelBenchmarkResult(rows, gemmRate);
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted[sorted.Length / 2];
    }
}
