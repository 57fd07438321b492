namespace StreamMtl.Server.Service;

/// <summary>Counts concurrent Process calls against Limits:MaxProcessSessions, in all and per client.</summary>
public sealed class ProcessSessions
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, int> _perClient = new(StringComparer.Ordinal);
    private int _active;

    public int Active => Volatile.Read(ref _active);

    /// <summary>Enters a session for <paramref name="client"/>; the limit it would break, or null when entered.</summary>
    public string? TryEnter(string client, int max, int maxPerClient)
    {
        lock (_gate)
        {
            if (_active >= max)
            {
                return $"the server already runs {max} Process calls (Limits:MaxProcessSessions)";
            }
            int mine = _perClient.GetValueOrDefault(client);
            if (mine >= maxPerClient)
            {
                return $"this client already runs {maxPerClient} Process calls (Limits:MaxProcessSessionsPerClient)";
            }
            _perClient[client] = mine + 1;
            Volatile.Write(ref _active, _active + 1);
            return null;
        }
    }

    public void Exit(string client)
    {
        lock (_gate)
        {
            if (_perClient.TryGetValue(client, out int mine))
            {
                if (mine <= 1)
                {
                    _perClient.Remove(client);
                }
                else
                {
                    _perClient[client] = mine - 1;
                }
                Volatile.Write(ref _active, _active - 1);
            }
        }
    }
}
