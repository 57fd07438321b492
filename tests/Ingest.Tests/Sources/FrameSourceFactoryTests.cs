using StreamMtl.Ingest.Files;
using StreamMtl.Ingest.Supervision;
using StreamMtl.Ingest.Frames;
using StreamMtl.Ingest.Network;
using StreamMtl.Ingest.Sources;

namespace StreamMtl.Ingest.Tests.Sources;

public sealed class FrameSourceFactoryTests
{
    private readonly FrameSourceFactory _factory = new();

    [Theory]
    [InlineData("/data/clip.mp4")]
    [InlineData("clips/relative.avi")]
    [InlineData("file:///data/clip.mp4")]
    [InlineData("file:///data/with%20space.mp4#mode=batch&loop=1")]
    public void Paths_and_file_uris_make_file_sources(string uri)
        => Assert.IsType<FileFrameSource>(_factory.Create(uri));

    [Theory]
    [InlineData("/data/clip.mp4", FileDecoder.OpenCv)]
    [InlineData("/data/clip.mp4#decoder=ffmpeg", FileDecoder.Ffmpeg)]
    [InlineData("file:///data/clip.mp4#decoder=OpenCv&mode=batch", FileDecoder.OpenCv)]
    [InlineData("/data/clip.mp4#decoder=FFMPEG&loop=1", FileDecoder.Ffmpeg)]
    public void The_decoder_parameter_picks_the_file_decoder(string uri, FileDecoder expected)
        => Assert.Equal(expected, Assert.IsType<FileFrameSource>(_factory.Create(uri)).Decoder);

    [Fact]
    public void File_arguments_read_the_path_as_a_file_and_scale_by_area()
    {
        var args = FfmpegArguments.BuildFile("-weird:name.mp4", new SourceOptions { Width = 320, Height = 240 });

        Assert.Equal("file", args[args.ToList().IndexOf("-protocol_whitelist") + 1]);
        Assert.Equal("file:" + Path.GetFullPath("-weird:name.mp4"), args[args.ToList().IndexOf("-i") + 1]);
        Assert.Contains("scale=320:240:flags=area", args);
        Assert.Equal("1", args[args.ToList().IndexOf("-threads") + 1]);
    }

    [Theory]
    [InlineData("/dev/video0")]
    [InlineData("v4l2:///dev/video0")]
    [InlineData("v4l2:///dev/video2#width=640&height=480")]
    public void Devices_make_v4l2_sources(string uri)
        => Assert.IsType<DeviceFrameSource>(_factory.Create(uri));

    [Theory]
    [InlineData("rtsp://127.0.0.1:8554/cam")]
    [InlineData("rtsps://cam.local/stream")]
    [InlineData("rtmp://127.0.0.1/live/key")]
    [InlineData("http://127.0.0.1:8080/video.mjpg")]
    [InlineData("https://example.test/hls/index.m3u8")]
    [InlineData("srt://127.0.0.1:9000?mode=caller")]
    [InlineData("udp://127.0.0.1:5000")]
    [InlineData("rtsp://127.0.0.1:8554/cam#transport=udp&width=320&height=240&timeout=2")]
    public void Network_uris_make_ffmpeg_sources(string uri)
    {
        var source = Assert.IsType<FfmpegFrameSource>(_factory.Create(uri));
        Assert.False(source.IsListener);
        Assert.DoesNotContain("#", source.DisplayUri);
    }

    [Fact]
    public void Listen_parameter_makes_a_listening_source_and_is_not_passed_on()
    {
        var source = Assert.IsType<FfmpegFrameSource>(_factory.Create("rtsp://0.0.0.0:8554/live?listen=1"));

        Assert.True(source.IsListener);
        Assert.Equal("rtsp://0.0.0.0:8554/live", source.DisplayUri);
    }

    [Fact]
    public void Fragment_parameters_reach_ffmpeg_arguments()
    {
        var args = FfmpegArguments.Build("rtsp://127.0.0.1/x", new SourceOptions { Width = 320, Height = 240, RtspTransport = RtspTransport.Udp }, listen: false);

        Assert.Contains("scale=320:240", args);
        Assert.Equal("udp", args[args.ToList().IndexOf("-rtsp_transport") + 1]);
        Assert.Equal("rawvideo", args[^2]);
    }

    [Theory]
    [InlineData("ftp://127.0.0.1/video.mp4")]
    [InlineData("gopher://x/y")]
    public void Unknown_schemes_are_UnsupportedScheme(string uri)
    {
        var error = Assert.Throws<SourceException>(() => _factory.Create(uri));
        Assert.Equal(SourceErrorKind.UnsupportedScheme, error.Kind);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("rtsp://")]
    [InlineData("rtsp://[::1")]
    [InlineData("1bad://host/x")]
    [InlineData("://host/x")]
    [InlineData("rtsp://127.0.0.1/x#width=abc&height=240")]
    [InlineData("rtsp://127.0.0.1/x#width=320")]
    [InlineData("/data/a.mp4#bogus=1")]
    [InlineData("/data/a.mp4#decoder=gstreamer")]
    [InlineData("/data/a.mp4#decoder=1")]
    [InlineData("/data/a.mp4#decoder=auto")]
    [InlineData("http://127.0.0.1/x?listen=1")]
    public void Malformed_uris_are_InvalidUri(string uri)
    {
        var error = Assert.Throws<SourceException>(() => _factory.Create(uri));
        Assert.Equal(SourceErrorKind.InvalidUri, error.Kind);
    }

    [Fact]
    public void Synthetic_camera_is_built_in()
    {
        var source = _factory.Create("synthetic://moving?seed=3&w=64&h=48&realtime=0");
        Assert.IsType<StreamMtl.Ingest.Synthetic.SyntheticSource>(source);
        Assert.Equal(64, source.Info.Width);
        var error = Assert.Throws<SourceException>(() => _factory.Create("synthetic://scene?seed=1"));
        Assert.Equal(SourceErrorKind.InvalidUri, error.Kind);
    }

    [Fact]
    public void Registered_schemes_are_delegated_with_options()
    {
        Uri? seen = null;
        SourceOptions? seenOptions = null;
        _factory.Register("synthetic", (uri, options) =>
        {
            seen = uri;
            seenOptions = options;
            return new FileFrameSource("/dev/null", options);
        });

        _factory.Create("synthetic://room?seed=3#width=64&height=48&mode=batch&fps=30");

        Assert.Equal("synthetic", seen?.Scheme);
        Assert.Equal(64, seenOptions?.Width);
        Assert.Equal(Pacing.Batch, seenOptions?.Pacing);
    }

    [Fact]
    public void Credentials_never_reach_the_display_uri()
    {
        var source = _factory.Create("rtsp://admin:hunter2@127.0.0.1:554/stream?token=abc123");

        Assert.DoesNotContain("hunter2", source.DisplayUri);
        Assert.DoesNotContain("abc123", source.DisplayUri);
        Assert.DoesNotContain("admin", source.DisplayUri);
    }

    [Fact]
    public void Malformed_uri_errors_are_redacted()
    {
        var error = Assert.Throws<SourceException>(() => _factory.Create("rtsp://admin:hunter2@127.0.0.1/x#width=1"));
        Assert.DoesNotContain("hunter2", error.Message);
    }
}
