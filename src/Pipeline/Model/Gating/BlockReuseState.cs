using static TorchSharp.torch;

namespace StreamMtl.Pipeline.Model;

/// <summary>
/// One transformer block's reuse state: gates at the block input (LN1 -> qkv, whose buffer holds Q, K, V of
/// every token), at the attention output (-> proj) and at the post-attention residual (LN2 -> MLP), plus the
/// attention output of every token (rows of unchanged queries are reused).
/// </summary>
internal sealed class BlockReuseState : IDisposable
{
    private Tensor? _attention;

    private Tensor? _keysValues;

    private Tensor? _keys;

    private Tensor? _values;

    public BlockReuseState(float threshold)
    {
        Qkv = new TokenGate(threshold);
        Proj = new TokenGate(threshold);
        Mlp = new TokenGate(threshold);
    }

    public TokenGate Qkv { get; }

    public TokenGate Proj { get; }

    public TokenGate Mlp { get; }

    /// <summary>Running softmax sums for <see cref="ReuseSettings.IncrementalAttention"/>.</summary>
    public AttentionSums Sums { get; } = new();

    /// <summary>Attention output of every token [N, D]; null until the first full pass.</summary>
    public Tensor? Attention => _attention;

    /// <summary>Bit mask of the units (<see cref="Policy.ComputeUnits"/>) that ran upstream of this block at its last run; null while cold.</summary>
    public long? Upstream { get; set; }

    public void SetAttention(Tensor attention) => StateBuffer.Keep(ref _attention, attention);

    /// <summary>True once the block holds every token's keys and values for <paramref name="tokens"/> rows (propagated pass).</summary>
    public bool HasKeysValues(long tokens) => _keysValues is not null && _keysValues.shape[0] == tokens;

    /// <summary>
    /// The propagated pass's keys and values: writes the selected rows' fresh q, k, v [k, 3D] (every row's when the selection
    /// is all) into the buffer of every token's and returns every token's keys and values as [1, H, N, Dh] views of it
    /// (made once per buffer, not per frame).
    /// </summary>
    public (Tensor Keys, Tensor Values) KeysValues(GateSelection selection, Tensor qkv, int heads, int headDim)
    {
        if (selection.All && !HasKeysValues(qkv.shape[0]))
        {
            // A new size: the views below must be made over the new buffer.
            ReleaseKeysValues();
        }
        var buffer = StateBuffer.Update(ref _keysValues, selection, qkv, "block");
        if (_keys is null)
        {
            using var scope = NewDisposeScope();
            var parts = buffer.view(1, buffer.shape[0], 3, heads, headDim).permute(2, 0, 3, 1, 4);
            _keys = parts.select(0, 1).DetachFromDisposeScope();
            _values = parts.select(0, 2).DetachFromDisposeScope();
        }
        return (_keys, _values!);
    }

    private void ReleaseKeysValues()
    {
        StateBuffer.Release(ref _keys);
        StateBuffer.Release(ref _values);
        StateBuffer.Release(ref _keysValues);
    }

    public void Reset()
    {
        Qkv.Reset();
        Proj.Reset();
        Mlp.Reset();
        Sums.Reset();
        Upstream = null;
        StateBuffer.Release(ref _attention);
        ReleaseKeysValues();
    }

    public void Dispose() => Reset();
}
