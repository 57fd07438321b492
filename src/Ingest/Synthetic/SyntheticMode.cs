namespace StreamMtl.Ingest.Synthetic;

/// <summary>How the synthetic camera itself behaves over time.</summary>
public enum SyntheticMode
{
    /// <summary>Fixed camera, moving objects: the surveillance case, where most patches do not change.</summary>
    Static,
    /// <summary>The camera pans, dollies and bobs as well, so every patch changes a little every frame.</summary>
    Moving,
}
