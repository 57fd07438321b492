using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Grpc.Net.Client;
using StreamMtl.Api.V1;
using StreamMtl.Server.Tests.Infrastructure;
using Task = System.Threading.Tasks.Task;

namespace StreamMtl.Server.Tests.Hosting;

/// <summary>gRPC over TLS with a PEM certificate and key from configuration.</summary>
public sealed class TlsTests
{
    [Fact]
    public async Task Grpc_is_served_over_tls_with_the_configured_certificate()
    {
        string dir = Directory.CreateTempSubdirectory("streammtl-tls").FullName;
        try
        {
            using var key = RSA.Create(2048);
            var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
            var san = new SubjectAlternativeNameBuilder();
            san.AddIpAddress(System.Net.IPAddress.Loopback);
            san.AddDnsName("localhost");
            request.CertificateExtensions.Add(san.Build());
            using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
            string certPath = Path.Combine(dir, "cert.pem");
            string keyPath = Path.Combine(dir, "key.pem");
            File.WriteAllText(certPath, certificate.ExportCertificatePem());
            File.WriteAllText(keyPath, key.ExportPkcs8PrivateKeyPem());
            await using var server = await ServerUnderTest.StartOnSocketsAsync(new Dictionary<string, string?>
            {
                ["StreamMtl:Endpoints:TlsCertificatePath"] = certPath,
                ["StreamMtl:Endpoints:TlsKeyPath"] = keyPath,
            });
            string thumbprint = certificate.Thumbprint;
            var handler = new SocketsHttpHandler
            {
                SslOptions = new SslClientAuthenticationOptions
                {
                    RemoteCertificateValidationCallback = (_, cert, _, _) => cert is X509Certificate2 c && c.Thumbprint == thumbprint,
                },
            };
            using var channel = GrpcChannel.ForAddress($"https://127.0.0.1:{server.GrpcPort}", new GrpcChannelOptions { HttpHandler = handler });
            var info = await new VisionService.VisionServiceClient(channel).GetModelInfoAsync(new GetModelInfoRequest(), deadline: DateTime.UtcNow.AddSeconds(30));
            Assert.NotEmpty(info.Version);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
