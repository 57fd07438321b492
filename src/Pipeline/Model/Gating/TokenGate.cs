using static TorchSharp.torch;

namespace StreamMtl.Pipeline.Model;

/// <summary>
/// An Eventful-style gate and buffer around one token-wise stage (LayerNorm+linear, MLP, head): keeps each
/// token's input as of its last recompute (the reference) and the stage's output for every token. Only
/// recomputed rows update their reference, so a slowly drifting token accumulates error until it crosses
/// the threshold (bounded drift, never compounding). Tensors are owned here, outside any dispose scope.
/// </summary>
internal sealed class TokenGate : IDisposable
{
    private readonly float _threshold;
    private Tensor? _reference;
    private Tensor? _limit;
    private Tensor? _output;

    /// <param name="threshold">Relative L2 change over which a token is recomputed; fixed per stream, so
    /// threshold * ||reference|| is kept per token and a frame's test is one difference, one norm, one compare.</param>
    public TokenGate(float threshold)
    {
        _threshold = threshold;
    }

    /// <summary>The output buffer [N, out] as of the last frame; null while cold.</summary>
    public Tensor? Output => _output;

    /// <summary>True once the gate holds a reference and an output for <paramref name="tokens"/> rows (it can score).</summary>
    public bool IsWarm(long tokens) => CanScore(tokens) && HasOutput(tokens);

    /// <summary>True once the gate holds a reference for <paramref name="tokens"/> rows, so it can score a frame (a gate that
    /// only <see cref="Remember"/>s has no output; every other scored gate has one too).</summary>
    public bool CanScore(long tokens) => _reference is not null && _reference.shape[0] == tokens;

    /// <summary>True once the gate holds an output for <paramref name="tokens"/> rows (another gate's selection can update it).</summary>
    public bool HasOutput(long tokens) => _output is not null && _output.shape[0] == tokens;

    /// <summary>
    /// Picks rows with ||input - reference|| > threshold * ||reference||, at most <paramref name="maxRows"/>
    /// (largest relative change first). Input is [N, F]. <paramref name="alsoRows"/> (bool [N]) adds rows whatever their
    /// change (the rolling refresh's stripe) when the rows over the threshold fit within <paramref name="maxRows"/>; then
    /// <see cref="GateSelection.OverThreshold"/> still counts only the rows over the threshold. Null: none added.
    /// <paramref name="thresholdScale"/> multiplies the threshold for this frame (a coarser compute level); the references
    /// kept stay the same.
    /// </summary>
    public GateSelection Select(Tensor input, long maxRows, Tensor? alsoRows = null, float thresholdScale = 1)
    {
        var reference = _reference ?? throw new InvalidOperationException("gate is cold; recompute every row first");
        long n = input.shape[0];
        var distance = input.sub(reference).norm(1);
        var moved = thresholdScale == 1 ? distance > _limit! : distance > _limit!.mul(Scalars.Of(thresholdScale));
        var over = moved.nonzero().flatten();
        long count = over.shape[0];
        if (count == n && maxRows >= n)
        {
            return GateSelection.Everything(n);
        }
        if (count > maxRows)
        {
            var score = distance.div_(reference.norm(1).PlusInPlace(1e-6));
            return new GateSelection(score.topk((int)maxRows).indexes, maxRows, count);
        }
        if (alsoRows is not null)
        {
            // One mask and one nonzero: sorted rows, each once (a cat and a sort-based unique cost more).
            var rows = moved.logical_or_(alsoRows).nonzero().flatten();
            return new GateSelection(rows, rows.shape[0], count) { WithAlso = true };
        }
        return new GateSelection(over, count, count);
    }

    /// <summary>
    /// Runs <paramref name="stage"/> on the selected rows, scatters them into the buffer and returns the full
    /// buffer [N, out] (owned by the gate). The stage runs on <paramref name="stageInput"/> when given (rows
    /// aligned with <paramref name="input"/>, which stays what the gate scores and keeps as the reference).
    /// A gate that only ever takes another gate's selection is never scored: <paramref name="keepReference"/> false
    /// skips its reference (a copy and a norm per frame) and leaves it cold for scoring.
    /// </summary>
    public Tensor Apply(Tensor input, GateSelection selection, Func<Tensor, Tensor> stage, Tensor? stageInput = null, bool keepReference = true)
    {
        if (selection.Rows is not { } rows)
        {
            var fresh = stage(stageInput ?? input);
            KeepOrForget(selection, input, keepReference);
            return Store(selection, fresh);
        }
        var output = _output ?? throw new InvalidOperationException("gate is cold; recompute every row first");
        if (selection.Count > 0)
        {
            var picked = stageInput is null || _reference is not null ? input.index_select(0, rows) : null;
            Store(selection, stage(stageInput is null ? picked! : stageInput.index_select(0, rows)));
            if (_reference is not null)
            {
                KeepOrForget(selection, picked!, keepReference);
            }
        }
        return output;
    }

    private void KeepOrForget(GateSelection selection, Tensor picked, bool keepReference)
    {
        if (keepReference)
        {
            Remember(selection, picked);
            return;
        }
        StateBuffer.Release(ref _reference);
        StateBuffer.Release(ref _limit);
    }

    /// <summary>
    /// Keeps <paramref name="picked"/> (the selected rows' inputs, in selection order; every row's when the selection is
    /// all) as their reference, without a stage or an output: a gate that scores only when its owner missed frames.
    /// </summary>
    public void Remember(GateSelection selection, Tensor picked)
    {
        if (selection.Count == 0)
        {
            return;
        }
        StateBuffer.Update(ref _reference, selection, picked, "gate");
        StateBuffer.Update(ref _limit, selection, picked.norm(1).mul_(Scalars.Of(_threshold)), "gate");
    }

    /// <summary>Writes <paramref name="fresh"/> (the selected rows' outputs, in selection order; every row's when the
    /// selection is all) into the output buffer and returns the buffer [N, out] (owned by the gate).</summary>
    public Tensor Store(GateSelection selection, Tensor fresh) => StateBuffer.Update(ref _output, selection, fresh, "gate");

    public void Reset()
    {
        StateBuffer.Release(ref _reference);
        StateBuffer.Release(ref _limit);
        StateBuffer.Release(ref _output);
    }

    public void Dispose() => Reset();
}
