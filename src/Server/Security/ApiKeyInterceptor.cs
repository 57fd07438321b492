using System.Security.Cryptography;
using System.Text;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.Extensions.Options;
using StreamMtl.Server.Configuration;

namespace StreamMtl.Server.Security;

/// <summary>Requires one of the configured API keys in call metadata (when any are configured); health checks stay open.</summary>
public sealed class ApiKeyInterceptor(IOptions<ServiceOptions> options) : Interceptor
{
    private readonly byte[][] _keys = options.Value.Security.ApiKeys.Select(Encoding.UTF8.GetBytes).ToArray();
    private readonly string _header = options.Value.Security.ApiKeyHeader;

    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context,
        UnaryServerMethod<TRequest, TResponse> continuation)
    {
        Check(context);
        return continuation(request, context);
    }

    public override Task ServerStreamingServerHandler<TRequest, TResponse>(TRequest request, IServerStreamWriter<TResponse> responseStream,
        ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Check(context);
        return continuation(request, responseStream, context);
    }

    public override Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream,
        ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Check(context);
        return continuation(requestStream, context);
    }

    public override Task DuplexStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream,
        IServerStreamWriter<TResponse> responseStream, ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Check(context);
        return continuation(requestStream, responseStream, context);
    }

    private void Check(ServerCallContext context)
    {
        if (_keys.Length == 0 || context.Method.StartsWith("/grpc.health.v1.", StringComparison.Ordinal))
        {
            return;
        }
        string? given = context.RequestHeaders.GetValue(_header);
        if (given == null)
        {
            string? bearer = context.RequestHeaders.GetValue("authorization");
            given = bearer != null && bearer.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? bearer[7..] : null;
        }
        if (given == null)
        {
            throw new RpcException(new Status(StatusCode.Unauthenticated, $"missing API key (metadata '{_header}')"));
        }
        byte[] bytes = Encoding.UTF8.GetBytes(given);
        if (!_keys.Any(k => CryptographicOperations.FixedTimeEquals(k, bytes)))
        {
            throw new RpcException(new Status(StatusCode.Unauthenticated, "invalid API key"));
        }
    }
}
