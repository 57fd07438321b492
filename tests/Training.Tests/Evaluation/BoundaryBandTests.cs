using StreamMtl.Training.Evaluation;

namespace StreamMtl.Training.Tests.Evaluation;

/// <summary>The band along class boundaries left out of the interior figures, against maps worked out by hand.</summary>
public sealed class BoundaryBandTests
{
    private const byte X = 255;

    // 6 x 4: class 1 on the right from column 3, one ignored pixel inside class 0.
    private static readonly byte[] Labels =
    [
        0, 0, 0, 1, 1, 1,
        0, X, 0, 1, 1, 1,
        0, 0, 0, 1, 1, 1,
        0, 0, 0, 1, 1, 1,
    ];

    [Fact]
    public void Radius_zero_drops_the_pixels_on_either_side_of_a_boundary()
    {
        byte[] expected =
        [
            0, 0, X, X, 1, 1,
            0, X, X, X, 1, 1,
            0, 0, X, X, 1, 1,
            0, 0, X, X, 1, 1,
        ];
        Assert.Equal(expected, BoundaryBand.Interior(Labels, 6, 4, 0));
    }

    [Fact]
    public void Radius_one_widens_the_band_by_a_pixel_each_way_and_ignored_pixels_make_no_boundary()
    {
        byte[] expected =
        [
            0, X, X, X, X, 1,
            0, X, X, X, X, 1,
            0, X, X, X, X, 1,
            0, X, X, X, X, 1,
        ];
        Assert.Equal(expected, BoundaryBand.Interior(Labels, 6, 4, 1));
    }

    [Fact]
    public void A_map_of_one_class_is_all_interior_and_a_wrong_size_is_refused()
    {
        byte[] flat = [2, 2, 2, 2, 2, 2];
        Assert.Equal(flat, BoundaryBand.Interior(flat, 3, 2, 3));
        var error = Assert.Throws<ArgumentException>(() => BoundaryBand.Interior(flat, 4, 2, 1));
        Assert.Equal("a 4x2 map needs 8 labels, got 6", error.Message);
    }

    [Fact]
    public void A_diagonal_neighbour_alone_is_not_a_boundary()
    {
        byte[] checker = [0, 1, 1, 0];
        // Every pixel has a 4-neighbour of the other class.
        Assert.All(BoundaryBand.Interior(checker, 2, 2, 0), v => Assert.Equal(X, v));
        byte[] corner =
        [
            0, 0, 0,
            0, 0, 0,
            0, 0, 1,
        ];
        byte[] expected =
        [
            0, 0, 0,
            0, 0, X,
            0, X, X,
        ];
        Assert.Equal(expected, BoundaryBand.Interior(corner, 3, 3, 0));
    }
}
