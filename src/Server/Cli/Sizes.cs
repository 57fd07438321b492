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
}
