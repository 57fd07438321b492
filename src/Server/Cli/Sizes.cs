using System.Globalization;

namespace StreamMtl.Server.Cli;

/// <summary>Parses WxH sizes for command options.</summary>
public static class Sizes
{
    public static (int Width, int Height) Parse(string text)
    {
        var parts = text.Split('x');
        if (parts.Length == 2 && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int w)
            && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int h)
            && w >= 16 && h >= 16 && w <= 8192 && h <= 8192)
        {
            return (w, h);
        }
        throw new CliException($"size must look like 320x240 (16..8192 each), got '{text}'");
    }

    /// <summary>A model input size: like <see cref="Parse"/>, and each side a whole number of 16-pixel patches.</summary>
    public static (int Width, int Height) ParseModelInput(string text)
    {
        var (w, h) = Parse(text);
        if (w % 16 != 0 || h % 16 != 0)
        {
            throw new CliException($"size {text}: the model reads 16x16 patches, so width and height must be multiples of 16 (e.g. 320x240)");
        }
        return (w, h);
    }
}
