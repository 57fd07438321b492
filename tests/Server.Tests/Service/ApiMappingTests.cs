using StreamMtl.Pipeline.Model;
using StreamMtl.Server.Service;
using V1 = StreamMtl.Api.V1;

namespace StreamMtl.Server.Tests.Service;

public sealed class ApiMappingTests
{
    [Fact]
    public void Reuse_fields_left_unset_keep_the_defaults_and_set_ones_override_them()
    {
        Assert.Equal(ReuseSettings.Default, ApiMapping.ToReuse(null));
        Assert.Equal(ReuseSettings.Default, ApiMapping.ToReuse(new V1.ReuseSettings()));

        var chosen = ApiMapping.ToReuse(new V1.ReuseSettings { RollingRefresh = false, KeyframeInterval = 20, MaxIndexStep = 30 });

        Assert.Equal(ReuseSettings.Default with { RollingRefresh = false, KeyframeInterval = 20, MaxIndexStep = 30 }, chosen);
        Assert.True(ReuseSettings.Default.RollingRefresh);
    }

    [Fact]
    public void Every_compute_level_has_its_own_api_value_and_maps_back_to_itself()
    {
        var api = ComputeLevels.All.Select(ApiMapping.ToApi).ToList();
        Assert.DoesNotContain(V1.ComputeLevel.Unspecified, api);
        Assert.Equal(api.Count, api.Distinct().Count());
        Assert.Equal(ComputeLevels.All, api.Select(ApiMapping.ToLevel));
        Assert.Equal(ComputeLevel.Lean, ApiMapping.ToLevel(V1.ComputeLevel.Lean));
    }
}
