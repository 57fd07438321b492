using StreamMtl.Pipeline.Model.Policy;
using static TorchSharp.torch;

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
/// At most one of <paramref name="Units"/>, <paramref name="Budget"/> and <paramref name="UnitGates"/> skips units
/// (<see cref="ComputeUnits"/>; a skipped block is the identity on the residual stream; null = every unit runs):
/// <paramref name="Units"/> the units to run, <paramref name="Budget"/> a target complexity in (0, 1] under which the
/// model's policy picks each sample's units (1 runs the full model without asking the policy), <paramref name="UnitGates"/>
/// per-sample gates [B, U] in [0, 1] for training (x + g (block(x) - x), every block computed).
/// <paramref name="Rule"/> says how a <paramref name="Budget"/> below 1 picks the units: every frame within it (the
/// default), or the policy's own decisions, which hold it on average only (<see cref="BudgetRule"/>); under the latter
/// <paramref name="LogitOffset"/> is added to every logit before it decides (<see cref="Budget.CalibrateOffset"/>).
/// </summary>
public sealed record ForwardOptions(TaskSet Tasks = TaskSet.All, float ShareThreshold = 0f, int? SplitLayer = null,
    (int Row, int Col)? GridOffset = null, bool KeepBlockOutputs = false, bool Fused = true,
    UnitPlan? Units = null, double? Budget = null, Tensor? UnitGates = null, BudgetRule Rule = BudgetRule.PerFrame,
    float LogitOffset = 0f);
