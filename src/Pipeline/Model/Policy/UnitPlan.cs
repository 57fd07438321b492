namespace StreamMtl.Pipeline.Model.Policy;

/// <summary>
/// Which units (<see cref="ComputeUnits"/>) a pass executes: one row for every sample of the batch, or one row per
/// sample. Units a pass does not need for its tasks are not run whatever the plan says.
/// </summary>
public sealed class UnitPlan
{
    private readonly bool[][] _rows;

    public UnitPlan(params bool[][] rows)
    {
        if (rows.Length == 0 || rows.Any(r => r.Length != rows[0].Length))
        {
            throw new ArgumentException("a unit plan needs at least one row, all of the same length", nameof(rows));
        }
        _rows = rows;
    }

    /// <summary>Every unit but <paramref name="skipped"/>, for every sample.</summary>
    public static UnitPlan Skipping(int units, params int[] skipped)
    {
        var row = Enumerable.Repeat(true, units).ToArray();
        foreach (int u in skipped)
        {
            row[u] = false;
        }
        return new UnitPlan(row);
    }

    /// <summary>Units per row.</summary>
    public int Units => _rows[0].Length;

    /// <summary>Rows held: 1 (the same units for every sample) or the batch size.</summary>
    public int Rows => _rows.Length;

    /// <summary>Whether sample <paramref name="sample"/> executes unit <paramref name="unit"/>.</summary>
    public bool Runs(int sample, int unit) => (_rows.Length == 1 ? _rows[0] : _rows[sample])[unit];

    /// <summary>The units sample <paramref name="sample"/> executes.</summary>
    public IReadOnlyList<bool> Row(int sample) => _rows.Length == 1 ? _rows[0] : _rows[sample];
}
