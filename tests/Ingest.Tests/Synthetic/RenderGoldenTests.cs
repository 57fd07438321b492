using System.Runtime.InteropServices;
using System.Security.Cryptography;
using StreamMtl.Ingest.Synthetic;

namespace StreamMtl.Ingest.Tests.Synthetic;

/// <summary>
/// Pins the renderer's exact output: SHA-256 of the BGR bytes and of the ground truth (labels, depth, normals as raw
/// bits) over a run of frames, recorded from the renderer before the static-camera cache. Any change to what a
/// spec renders, however small, fails here; a deliberate change must re-record the constants and say so.
/// The figures are linux-x64 ones (MathF.Sin/Cos/Tan come from the C runtime's libm).
/// </summary>
public sealed class RenderGoldenTests
{
    // The render benchmark's spec (seed 7, 6 objects, noise 2).
    private const string BenchmarkUri = "synthetic://static?seed=7&w=320&h=240&fps=15&noise=2&objects=6&realtime=0";

    // Consecutive frames on one camera (what a live source and the benchmark do), then frames far along.
    private static readonly long[] Run = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 37, 1000, 123_457];

    public static TheoryData<string, string, string> Golden() => new()
    {
        {
            BenchmarkUri,
            "c92e7c344f9696e7d117c061c9d1f33b3db6e5266238153a173b500d31082202",
            "6ffb8d4b16a0ffc6fb6cf6f899f8c679887b7e25d361280fc79574779ecd6922"
        },
        {
            "synthetic://moving?seed=7&w=320&h=240&fps=15&noise=2&objects=6&realtime=0",
            "5f4b5c502a9c2f5be8a3e51db6fa42af0199c0d33cd4da6cd9b74f177631ceac",
            "dc3e2e36a1effcfbab7db8d817b78936c7ccbf360650ad232b70deb744129f2c"
        },
        {
            "synthetic://static?seed=3&w=160&h=120&fps=30&noise=0&objects=10&realtime=0",
            "e1bed3b44d909f4f5b04e580cb553d00180d48fe99bf422a0e8e0046587ee988",
            "089eeb753c87c566707f6482295c877c615dd3d3853ed9cbb27fdd0ceec9b15c"
        },
        // Odd size, the most objects a spec allows, strong noise.
        {
            "synthetic://static?seed=11&w=97&h=61&fps=15&noise=5&objects=24&realtime=0",
            "654282082b74b3172c23508bc1978aa4ae68abcab582208be6bdcd19a145e378",
            "a35d96cbb8cb8567507b21d1bab6a9d23e260999daaf0c5486d3af2951924641"
        },
        {
            "synthetic://static?seed=2&w=64&h=48&fps=15&noise=2&objects=0&realtime=0",
            "f08dcd58fc616e8bc589c77b3c3b5731c3a834acded487f533a496205999c409",
            "77798b32e1a2f793ce673b41327d128ab7e9c529fbb055b2f69f56983f437811"
        },
        {
            "synthetic://moving?seed=5&w=160&h=120&fps=15&noise=3&objects=9&realtime=0",
            "e802e3c020c980c4cda9fd515064e3a3aae175232856bafa8afc130e2ffea4ef",
            "e99d8dbe3b242d27449be49ee9e4650e8a5778975383226817d955a35d483901"
        },
        {
            "synthetic://static?seed=21&w=640&h=360&fps=25&noise=1.5&objects=4&realtime=0",
            "a37ccd54bcdec52a923ad8818dc0f8e52653574d516309bc3ba0364cdd894a31",
            "0730ad7287b8503d9735553b1fe2dd78db33b2430abaaacf1ef02c017acd7e6f"
        },
    };

    [Theory]
    [MemberData(nameof(Golden))]
    public void RenderedBytesAndTruth_MatchTheRecordedHashes(string uri, string imageSha, string truthSha)
    {
        var camera = new SyntheticCamera(SyntheticSpec.Parse(uri));
        var (image, truth) = Hashes(camera, withTruth: true);

        Assert.Equal((imageSha, truthSha), (image, truth));
    }

    [Fact]
    public void WithoutTruth_TheImageIsTheSame()
    {
        var (image, _) = Hashes(new SyntheticCamera(SyntheticSpec.Parse(BenchmarkUri)), withTruth: false);

        Assert.Equal(Expected(BenchmarkUri).Image, image);
    }

    [Fact]
    public void OneThread_GivesTheSameHashes()
    {
        const string uri = "synthetic://static?seed=11&w=97&h=61&fps=15&noise=5&objects=24&realtime=0";

        var hashes = Hashes(new SyntheticCamera(SyntheticSpec.Parse(uri)) { MaxDegreeOfParallelism = 1 }, withTruth: true);

        Assert.Equal(Expected(uri), hashes);
    }

    private static (string Image, string Truth) Expected(string uri)
    {
        var row = Golden().Single(row => (string)row[0] == uri);
        return ((string)row[1], (string)row[2]);
    }

    private static (string Image, string Truth) Hashes(SyntheticCamera camera, bool withTruth)
    {
        using var image = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        using var truthHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var pixels = new byte[camera.Spec.Width * camera.Spec.Height * 3];
        var truth = withTruth ? camera.CreateTruth() : null;
        foreach (var index in Run)
        {
            camera.Render(index, pixels, truth);
            image.AppendData(pixels);
            if (truth is not null)
            {
                truthHash.AppendData(truth.Labels);
                truthHash.AppendData(MemoryMarshal.AsBytes(truth.Depth.AsSpan()));
                truthHash.AppendData(MemoryMarshal.AsBytes(truth.Normals.AsSpan()));
            }
        }
        return (Convert.ToHexStringLower(image.GetHashAndReset()), withTruth ? Convert.ToHexStringLower(truthHash.GetHashAndReset()) : "");
    }
}
