using StreamMtl.Pipeline.Model;
using System.Text.RegularExpressions;
using TorchSharp;
using static TorchSharp.torch;

namespace StreamMtl.Training.Surgery;

/// <summary>
/// Deepens a trained model: new blocks go into the shared trunk, each starting as the identity (its attention
/// output projection and second MLP linear are zero, so the residual stream passes through unchanged), so the
/// grown model first computes exactly what the trained one did and training continues from there instead of
/// from scratch (the "identity-initialised layer insertion" of progressive-growing schemes).
/// </summary>
public static class ModelGrowth
{
    /// <summary>
    /// Returns a new model with <paramref name="count"/> identity blocks inserted after block
    /// <paramref name="after"/> (0 = before the first) of <paramref name="source"/>, and every trained tensor
    /// copied over; later blocks, the split layer and the sub-task deltas move up by <paramref name="count"/>.
    /// The insertion must lie in the shared trunk (at or before the first block that has sub-task deltas), so
    /// every sub-task still runs the same trained blocks on top of the base's activations.
    /// </summary>
    public static MultiTaskVit InsertBlocks(MultiTaskVit source, int after, int count)
    {
        var config = source.Config;
        if (count < 1)
        {
            throw new ArgumentException($"insert at least one block, got {count}", nameof(count));
        }
        if (after < 0 || after > config.DeltaFrom)
        {
            throw new ArgumentException(
                $"new blocks go into the shared trunk: after block 0..{config.DeltaFrom} of this model (its first block with sub-task deltas is {config.DeltaFrom + 1}), got {after}");
        }
        var grown = config with
        {
            Blocks = config.Blocks + count,
            SplitLayer = config.SplitLayer + count,
            DeltaFrom = config.DeltaFrom + count,
            // A compute policy scores the old units; the grown model has more, so it starts without one.
            Policy = null,
        };
        return Rebuilt.From(source, grown, target =>
        {
            // The policy's parameters stay behind with the policy (see Policy = null above).
            foreach (var (name, parameter) in source.named_parameters().Where(p => !p.name.StartsWith("policy.", StringComparison.Ordinal)))
            {
                target[Renamed(name, after, count)].copy_(parameter);
            }
            for (int i = after; i < after + count; i++)
            {
                foreach (var zeroed in new[] { $"blocks.{i}.attn.proj.", $"blocks.{i}.mlp.fc2." })
                {
                    target[zeroed + "weight"].zero_();
                    target[zeroed + "bias"].zero_();
                }
            }
        });
    }

    /// <summary>The name of a source tensor in the grown model: block indices at or past the insertion move up.</summary>
    internal static string Renamed(string name, int after, int count) =>
        BlockIndex.Replace(name, m =>
        {
            int index = int.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture);
            return $"{m.Groups[1].Value}{(index >= after ? index + count : index)}.";
        });

    // "blocks.I." at the start (trunk) or after "tasks.NAME." (sub-task deltas).
    private static readonly Regex BlockIndex = new(@"^((?:tasks\.[a-z]+\.)?blocks\.)(\d+)\.", RegexOptions.CultureInvariant);
}
