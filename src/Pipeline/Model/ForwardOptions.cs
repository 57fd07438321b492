namespace StreamMtl.Pipeline.Model;

/// <summary>
/// What one forward pass computes. <paramref name="ShareThreshold"/> is the sub-task activation-sharing
/// threshold (relative per-token L2 distance to the base block's input under which the base's linear
/// output is reused; 0 = exact). <paramref name="SplitLayer"/> overrides the model's split layer l.
/// <paramref name="GridOffset"/> places a crop inside the trained position grid (training on crops sees
/// the same position embeddings the full frame would); null interpolates the grid to the input instead.
/// <paramref name="KeepBlockOutputs"/> keeps each task's block outputs (the residual stream) in the result,
/// for training penalties on activations.
/// <paramref name="Fused"/> lets a pass that cannot change the weights (no gradients, eval mode) take the inference
/// fast paths (sub-task linears on folded W_base + B*A weights); false runs the plain computation training runs, the
/// reference that tests and <c>streammtl bench --kind model</c> compare the fast paths with.
/// </summary>
public sealed record ForwardOptions(TaskSet Tasks = TaskSet.All, float ShareThreshold = 0f, int? SplitLayer = null,
    (int Row, int Col)? GridOffset = null, bool KeepBlockOutputs = false, bool Fused = true);
