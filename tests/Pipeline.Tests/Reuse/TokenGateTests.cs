using StreamMtl.Pipeline.Model;
using static TorchSharp.torch;

namespace StreamMtl.Pipeline.Tests.Reuse;

public sealed class TokenGateTests
{
    [Fact]
    public void SlowDriftAccumulatesUntilRecomputedThenReferenceMoves()
    {
        using var scope = NewDisposeScope();
        using var gate = new TokenGate(0.1f);
        var reference = ones(4, 8);
        gate.Apply(reference, GateSelection.Everything(4), x => x * 2);
        var picks = new List<long>();
        float lastComputed = 1;
        for (int frame = 1; frame <= 6; frame++)
        {
            // Token 0 drifts by 4% of its norm per frame; the others stay put.
            var input = reference.clone();
            input[0].mul_(1 + 0.04f * frame);
            var selection = gate.Select(input, 4);
            picks.Add(selection.Count);
            var output = gate.Apply(input, selection, x => x * 2);
            lastComputed = selection.Count > 0 ? 1 + 0.04f * frame : lastComputed;
            Assert.Equal(2f * lastComputed, output[0, 0].item<float>(), 4);
        }
        // 4%, 8% stay under 10%; 12% is recomputed; after that the reference is 1.12, so 1.16 and 1.20 stay under and 1.24 crosses again.
        Assert.Equal([0, 0, 1, 0, 0, 1], picks);
    }

    [Fact]
    public void A_threshold_scale_raises_the_bar_for_the_frame_only()
    {
        using var scope = NewDisposeScope();
        using var gate = new TokenGate(0.05f);
        gate.Apply(ones(4, 4), GateSelection.Everything(4), x => x.clone());
        // Relative changes 0 %, 10 %, 30 %, 50 %: over 5 % for three rows, over 4 x 5 % = 20 % for two.
        var input = ones(4, 4);
        input[1].mul_(1.1f);
        input[2].mul_(1.3f);
        input[3].mul_(1.5f);
        var coarse = gate.Select(input, 4, thresholdScale: 4);
        Assert.Equal([2L, 3L], coarse.Rows!.data<long>().ToArray());
        Assert.Equal(2, coarse.OverThreshold);
        // Nothing was applied: at the stream's own threshold the same input still picks all three.
        var own = gate.Select(input, 4);
        Assert.Equal([1L, 2L, 3L], own.Rows!.data<long>().ToArray());
    }

    [Fact]
    public void BudgetKeepsTheLargestChanges()
    {
        using var scope = NewDisposeScope();
        using var gate = new TokenGate(0.1f);
        gate.Apply(ones(5, 4), GateSelection.Everything(5), x => x.clone());
        var input = ones(5, 4);
        for (int i = 0; i < 5; i++)
        {
            input[i].mul_(1.2f + 0.1f * i);
        }
        var selection = gate.Select(input, 2);
        Assert.Equal(2, selection.Count);
        Assert.Equal(5, selection.OverThreshold);
        Assert.Equal([3L, 4L], selection.Rows!.data<long>().ToArray().Order());
    }

    [Fact]
    public void AddedRowsJoinTheRowsOverThresholdOnceEachAndInOrder()
    {
        using var scope = NewDisposeScope();
        using var gate = new TokenGate(0.1f);
        gate.Apply(ones(6, 4), GateSelection.Everything(6), x => x.clone());
        var input = ones(6, 4);
        input[1].mul_(1.5f);
        input[4].mul_(1.5f);
        var also = tensor(new[] { false, false, false, true, true, false });
        var selection = gate.Select(input, 6, also);
        Assert.True(selection.WithAlso);
        Assert.Equal(2, selection.OverThreshold);
        Assert.Equal(3, selection.Count);
        Assert.Equal([1L, 3L, 4L], selection.Rows!.data<long>().ToArray());
        // Over the budget the top rows come back alone (the caller adds the stripe to them), and nothing moved adds only the rows.
        var capped = gate.Select(input, 1, also);
        Assert.False(capped.WithAlso);
        Assert.Equal(1, capped.Count);
        Assert.Equal([3L, 4L], gate.Select(ones(6, 4), 6, also).Rows!.data<long>().ToArray());
    }

    [Fact]
    public void UnchangedInputSelectsNothingAndEverythingOverThresholdRunsDense()
    {
        using var scope = NewDisposeScope();
        using var gate = new TokenGate(0f);
        var x = randn(6, 4);
        gate.Apply(x, GateSelection.Everything(6), t => t.clone());
        Assert.Equal(0, gate.Select(x, 6).Count);
        Assert.True(gate.Select(x + 1, 6).All);
    }

    [Fact]
    public void AGateWithoutReferenceUpdatesItsOutputOnAnotherGatesRowsAndCannotScore()
    {
        using var scope = NewDisposeScope();
        using var gate = new TokenGate(0.1f);
        gate.Apply(ones(4, 3), GateSelection.Everything(4), x => x * 2, keepReference: false);
        Assert.True(gate.HasOutput(4));
        Assert.False(gate.IsWarm(4));
        var input = ones(4, 3) * 5;
        var output = gate.Apply(input, new GateSelection(tensor(new long[] { 1, 3 }), 2, 2), x => x * 2, keepReference: false);
        Assert.Equal([2f, 10f, 2f, 10f], output.select(1, 0).data<float>().ToArray());
        Assert.False(gate.IsWarm(4));
    }
}
