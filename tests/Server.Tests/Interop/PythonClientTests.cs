using System.Text.Json;
using StreamMtl.Server.Tests.Infrastructure;
using Task = System.Threading.Tasks.Task;

namespace StreamMtl.Server.Tests.Interop;

/// <summary>A non-.NET client (Debian python3-grpcio + python3-grpc-tools) subscribes using only protos/ and decodes a result.</summary>
public sealed class PythonClientTests
{
    [Fact]
    public async Task Python_client_generated_from_the_proto_subscribes_and_decodes_a_result()
    {
        await using var server = await ServerUnderTest.StartOnSocketsAsync();
        await server.AddSyntheticAsync("cam");
        string generated = Directory.CreateTempSubdirectory("streammtl-py").FullName;
        try
        {
            string protos = Path.Combine(TestModel.RepoRoot(), "protos");
            await using (var protoc = ChildProcess.Start("/usr/bin/python3", ["-m", "grpc_tools.protoc", $"-I{protos}",
                $"--python_out={generated}", $"--grpc_python_out={generated}", Path.Combine(protos, "streammtl.proto")]))
            {
                Assert.True(await protoc.WaitAsync(TimeSpan.FromSeconds(60)) == 0, protoc.Output);
            }
            string script = Path.Combine(AppContext.BaseDirectory, "Interop", "subscribe_client.py");
            await using var client = ChildProcess.Start("/usr/bin/python3", [script, generated, $"127.0.0.1:{server.GrpcPort}", "cam"]);
            int exit = await client.WaitAsync(TimeSpan.FromSeconds(90));
            Assert.True(exit == 0, client.Output);
            string line = client.Output.Split('\n').First(l => l.StartsWith('{'));
            using var json = JsonDocument.Parse(line);
            var root = json.RootElement;
            Assert.Equal(160, root.GetProperty("width").GetInt32());
            Assert.Equal(128, root.GetProperty("height").GetInt32());
            Assert.Equal(160 * 128, root.GetProperty("histogram").EnumerateArray().Sum(v => v.GetInt32()));
            Assert.Equal(160 * 128, root.GetProperty("depth_count").GetInt32());
            Assert.Equal("floor", root.GetProperty("classes")[0].GetString());
            Assert.True(root.GetProperty("dense").GetInt64() > 0);
        }
        finally
        {
            Directory.Delete(generated, recursive: true);
        }
    }
}
