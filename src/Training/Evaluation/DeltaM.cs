namespace StreamMtl.Training.Evaluation;

/// <summary>Delta-m: the mean relative change (%) of a multi-task model against single-task models, positive = better.</summary>
public static class DeltaM
{
    /// <summary>(1/T) sum (-1)^l (M - S) / S * 100, with l = 1 where lower is better.</summary>
    public static double Compute(IEnumerable<(double Multi, double Single, bool LowerIsBetter)> entries)
    {
        double sum = 0;
        int count = 0;
        foreach (var (multi, single, lowerIsBetter) in entries)
        {
            if (single == 0 || !double.IsFinite(single) || !double.IsFinite(multi))
            {
                throw new ArgumentException($"entry {count}: single-task value {single} / multi-task value {multi} must be finite and single non-zero");
            }
            double change = (multi - single) / single * 100;
            sum += lowerIsBetter ? -change : change;
            count++;
        }
        return count == 0 ? throw new ArgumentException("Delta-m needs at least one entry", nameof(entries)) : sum / count;
    }
}
