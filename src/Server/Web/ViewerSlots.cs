namespace StreamMtl.Server.Web;

/// <summary>Counts open web view connections against Limits:MaxWebViewers.</summary>
public sealed class ViewerSlots(int max)
{
    private int _open;

    public int Max => max;

    public bool TryTake()
    {
        if (Interlocked.Increment(ref _open) <= max)
        {
            return true;
        }
        Interlocked.Decrement(ref _open);
        return false;
    }

    public void Release() => Interlocked.Decrement(ref _open);
}
