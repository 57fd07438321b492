using StreamMtl.Ingest.Sources;
using StreamMtl.Ingest.Synthetic;

namespace StreamMtl.Ingest.Tests.Synthetic;

public sealed class SyntheticSpecTests
{
    [Fact]
    public void Parse_ReadsParametersAndDefaultsTheRest()
    {
        var spec = SyntheticSpec.Parse("synthetic://static?seed=7&w=320&h=240&fps=15");

        Assert.Equal(new SyntheticSpec(SyntheticMode.Static, 7, 320, 240, 15), spec);
        Assert.Equal(2, spec.Noise);
        Assert.Equal(6, spec.Objects);
        Assert.Null(spec.Frames);
        Assert.True(spec.Truth);
        Assert.True(spec.Realtime);
    }

    [Fact]
    public void Parse_BareMovingUri_UsesDefaults()
    {
        Assert.Equal(new SyntheticSpec(SyntheticMode.Moving), SyntheticSpec.Parse("synthetic://moving"));
        Assert.Equal(new SyntheticSpec(SyntheticMode.Moving), SyntheticSpec.Parse("SYNTHETIC://moving/"));
    }

    public static TheoryData<SyntheticSpec> Specs() => new()
    {
        new SyntheticSpec(),
        new SyntheticSpec(SyntheticMode.Moving, -3, 16, 4096, 29.97, 0.5, 0, 100, false, false),
        new SyntheticSpec(SyntheticMode.Static, int.MaxValue, 640, 480, 0.25, 0, 24, null, true, false),
    };

    [Theory]
    [MemberData(nameof(Specs))]
    public void ToUri_RoundTrips(SyntheticSpec spec)
    {
        var uri = spec.ToUri();

        Assert.Equal(spec, SyntheticSpec.Parse(uri));
        Assert.StartsWith("synthetic://", uri);
    }

    [Theory]
    [InlineData("synthetic://static?w=15", "'w'")]
    [InlineData("synthetic://static?w=4097", "'w'")]
    [InlineData("synthetic://static?h=abc", "'h'")]
    [InlineData("synthetic://static?seed=1.5", "'seed'")]
    [InlineData("synthetic://static?fps=0", "'fps'")]
    [InlineData("synthetic://static?fps=241", "'fps'")]
    [InlineData("synthetic://static?fps=NaN", "'fps'")]
    [InlineData("synthetic://static?noise=-1", "'noise'")]
    [InlineData("synthetic://static?noise=65", "'noise'")]
    [InlineData("synthetic://static?objects=25", "'objects'")]
    [InlineData("synthetic://static?objects=-1", "'objects'")]
    [InlineData("synthetic://static?frames=0", "'frames'")]
    [InlineData("synthetic://static?truth=2", "'truth'")]
    [InlineData("synthetic://static?realtime=yes", "'realtime'")]
    [InlineData("synthetic://static?colour=red", "'colour'")]
    [InlineData("synthetic://static?seed=1&seed=2", "'seed'")]
    [InlineData("synthetic://spinning?seed=1", "'spinning'")]
    [InlineData("file:///tmp/a.mp4", "synthetic://")]
    public void Parse_BadParameter_ThrowsInvalidUriNamingIt(string uri, string expected)
    {
        var error = Assert.Throws<SourceException>(() => SyntheticSpec.Parse(uri));

        Assert.Equal(SourceErrorKind.InvalidUri, error.Kind);
        Assert.True(error.IsPermanent);
        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public void Parse_ReportsEveryProblemAtOnce()
    {
        var error = Assert.Throws<SourceException>(() => SyntheticSpec.Parse("synthetic://static?w=1&h=99999&bogus=1"));

        Assert.Contains("'w'", error.Message);
        Assert.Contains("'h'", error.Message);
        Assert.Contains("'bogus'", error.Message);
    }
}
