using System.Globalization;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using StreamMtl.Server.Configuration;

namespace StreamMtl.Server.Security;

/// <summary>
/// A flood of AddStream, RemoveStream, Subscribe or Process calls from one client is refused with RESOURCE_EXHAUSTED by
/// ASP.NET Core's rate limiting middleware: one token bucket per client (<see cref="ClientIdentity"/>), so a noisy client
/// does not starve the others. Other calls (GetStream, ListStreams, health, metrics) are not limited.
/// </summary>
public static class CallRateLimiting
{
    /// <summary>The limited methods: each starts work (a stream, a subscription, a session).</summary>
    public static IReadOnlySet<string> LimitedPaths { get; } = new HashSet<string>(StringComparer.Ordinal)
    {
        "/streammtl.v1.VisionService/AddStream",
        "/streammtl.v1.VisionService/RemoveStream",
        "/streammtl.v1.VisionService/Subscribe",
        "/streammtl.v1.VisionService/Process",
    };

    public static IServiceCollection AddCallRateLimiting(this IServiceCollection services)
    {
        services.AddOptions<RateLimiterOptions>().Configure<IOptions<ServiceOptions>>((limiter, service) =>
        {
            var limits = service.Value.Limits;
            string header = service.Value.Security.ApiKeyHeader;
            bool whole = limits.CallsPerSecondPerClient >= 1;
            var bucket = new TokenBucketRateLimiterOptions
            {
                TokenLimit = limits.CallBurstPerClient,
                TokensPerPeriod = whole ? (int)limits.CallsPerSecondPerClient : 1,
                ReplenishmentPeriod = whole ? TimeSpan.FromSeconds(1) : TimeSpan.FromSeconds(1 / limits.CallsPerSecondPerClient),
                QueueLimit = 0,
                AutoReplenishment = true,
            };
            limiter.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(context =>
                LimitedPaths.Contains(context.Request.Path.Value ?? "") || Web.WebEndpoints.IsLimited(context.Request)
                    ? RateLimitPartition.GetTokenBucketLimiter(ClientIdentity.Of(context, header), _ => bucket)
                    : RateLimitPartition.GetNoLimiter("unlimited"));
            limiter.OnRejected = (rejected, _) =>
            {
                string message = $"too many calls from this client: at most {limits.CallsPerSecondPerClient:0.##}/s after a burst of {limits.CallBurstPerClient} " +
                    "(Limits:CallsPerSecondPerClient, Limits:CallBurstPerClient)";
                if (Web.WebEndpoints.IsLimited(rejected.HttpContext.Request))
                {
                    rejected.HttpContext.Response.StatusCode = StatusCodes.Status429TooManyRequests;
                    return new ValueTask(rejected.HttpContext.Response.WriteAsJsonAsync(new { error = message }));
                }
                // A gRPC "trailers-only" answer, so clients see RESOURCE_EXHAUSTED rather than an HTTP error.
                var response = rejected.HttpContext.Response;
                response.StatusCode = StatusCodes.Status200OK;
                response.ContentType = "application/grpc";
                response.Headers["grpc-status"] = ((int)Grpc.Core.StatusCode.ResourceExhausted).ToString(CultureInfo.InvariantCulture);
                response.Headers["grpc-message"] = Uri.EscapeDataString(message);
                return ValueTask.CompletedTask;
            };
        });
        return services.AddRateLimiter(_ => { });
    }

    public static WebApplication UseCallRateLimiting(this WebApplication app)
    {
        app.UseRateLimiter();
        return app;
    }
}
