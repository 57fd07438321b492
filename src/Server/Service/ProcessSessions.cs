namespace StreamMtl.Server.Service;

/// <summary>Counts concurrent Process calls against Limits:MaxProcessSessions.</summary>
public sealed class ProcessSessions
{
    private int _active;

    public int Active => Volatile.Read(ref _active);

    public bool TryEnter(int max)
    {
        while (true)
        {
            int current = Volatile.Read(ref _active);
            if (current >= max)
            {
                return false;
            }
            if (Interlocked.CompareExchange(ref _active, current + 1, current) == current)
            {
                return true;
            }
        }
    }

    public void Exit() => Interlocked.Decrement(ref _active);
}
