using Orleans.Placement;
using Orleans.Runtime;
using Orleans.Runtime.Placement;

namespace StreamMtl.Server.Cluster;

/// <summary>Stream grains go where the registry says (a placement hint in the call's request context).</summary>
[Serializable, GenerateSerializer, Immutable]
public sealed class CatalogPlacementStrategy : PlacementStrategy;

[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class CatalogPlacementAttribute() : PlacementAttribute(new CatalogPlacementStrategy());

/// <summary>
/// Places a stream grain on the silo the registry chose (Orleans' placement hint), when that silo is still compatible;
/// without a usable hint (a call that did not come from the registry), on the calling silo: the registry's next pass
/// corrects a grain that landed where it has no capacity.
/// </summary>
public sealed class CatalogPlacementDirector : IPlacementDirector
{
    public Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        var silos = context.GetCompatibleSilos(target);
        if (silos.Length == 0)
        {
            throw new OrleansException($"no compatible silo for {target.GrainIdentity}");
        }
        if (target.RequestContextData is { } data && data.TryGetValue(IPlacementDirector.PlacementHintKey, out var hint)
            && hint is SiloAddress wanted && Array.IndexOf(silos, wanted) >= 0)
        {
            return Task.FromResult(wanted);
        }
        return Task.FromResult(Array.IndexOf(silos, context.LocalSilo) >= 0 ? context.LocalSilo : silos[0]);
    }
}
