using System.Text.RegularExpressions;
using Microsoft.Extensions.Configuration;
using StreamMtl.Server.Cluster;
using StreamMtl.Server.Configuration;
using StreamMtl.Server.Tests.Infrastructure;
using YamlDotNet.RepresentationModel;

namespace StreamMtl.Server.Tests.Deployment;

/// <summary>
/// The deployment files: docker/compose*.yaml, their Prometheus configs and deploy/kubernetes/. Docker (no daemon),
/// kubectl (no cluster) and Grafana do not run on the development machine or in CI, so nothing here starts a container
/// or applies a manifest: every YAML file is parsed with YamlDotNet and checked for what a cluster node needs, and the
/// configuration each node would get (image ENV, environment, serve arguments) is bound and validated like the service
/// does. (The Prometheus configs also run through promtool in PrometheusDashboardTests, and the compose entrypoint's
/// shell snippet runs here with a stand-in for dotnet.)
/// </summary>
public sealed class DeploymentFileTests
{
    private static readonly ClusterNodeOptions Defaults = new();

    private static string Repo(params string[] parts) => Path.Combine([TestModel.RepoRoot(), .. parts]);

    private static string Kubernetes(params string[] parts) => Repo(["deploy", "kubernetes", .. parts]);

    /// <summary>Every YAML file under docker/ and deploy/, relative to the repository root.</summary>
    private static List<string> YamlPaths() =>
        new[] { Repo("docker"), Repo("deploy") }
            .SelectMany(dir => Directory.EnumerateFiles(dir, "*.*", SearchOption.AllDirectories))
            .Where(f => f.EndsWith(".yaml", StringComparison.Ordinal) || f.EndsWith(".yml", StringComparison.Ordinal))
            .Select(f => Path.GetRelativePath(TestModel.RepoRoot(), f))
            .Order(StringComparer.Ordinal)
            .ToList();

    public static TheoryData<string> YamlFiles() => new(YamlPaths());

    [Fact]
    public void The_deployment_yaml_files_are_all_found()
    {
        var files = YamlPaths();
        foreach (var expected in new[]
                 {
                     "docker/compose.yaml", "docker/compose.cluster.yaml", "docker/prometheus/prometheus.yml", "docker/prometheus/prometheus.cluster.yml",
                     "deploy/kubernetes/kustomization.yaml", "deploy/kubernetes/streammtl.yaml", "deploy/kubernetes/redis.yaml",
                     "deploy/kubernetes/prometheus/prometheus.yml",
                 })
        {
            Assert.Contains(expected, files);
        }
    }

    [Theory]
    [MemberData(nameof(YamlFiles))]
    public void Every_yaml_file_parses_into_mappings(string file)
    {
        var documents = Yaml.Documents(Repo(file));
        Assert.NotEmpty(documents);
        if (file.StartsWith("deploy/kubernetes/", StringComparison.Ordinal) && !file.Contains("/prometheus/", StringComparison.Ordinal))
        {
            // Kubernetes objects (and the kustomization) name their API, kind and (objects) name.
            Assert.All(documents, d =>
            {
                Assert.NotEmpty(Yaml.Text(d, "apiVersion"));
                Assert.NotEmpty(Yaml.Text(d, "kind"));
            });
        }
    }

    // ---- docker/compose.cluster.yaml ----

    private static YamlMappingNode ClusterCompose() => Assert.Single(Yaml.Documents(Repo("docker", "compose.cluster.yaml")));

    private static YamlNode ComposeService(YamlMappingNode compose, string name) => Yaml.At(compose, "services", name);

    [Fact]
    public void Compose_cluster_runs_a_replicated_service_that_joins_the_redis_service()
    {
        var compose = ClusterCompose();
        var redis = ComposeService(compose, "redis");
        Assert.StartsWith("redis:", Yaml.Text(redis, "image"), StringComparison.Ordinal);
        Assert.Contains("redis-cli", Yaml.Strings(redis, "healthcheck", "test"));

        var node = ComposeService(compose, "streammtl");
        Assert.Equal(3, int.Parse(Yaml.Text(node, "deploy", "replicas"), System.Globalization.CultureInfo.InvariantCulture));
        var args = Yaml.Strings(node, "command");
        Assert.Equal(["--cluster", "redis://redis:6379", "--no-camera", "--address", "0.0.0.0"], args);
        Assert.Equal("service_healthy", Yaml.Text(node, "depends_on", "redis", "condition"));
        // Its Redis is this file's redis service, on Redis' port.
        Assert.Equal("redis:6379", ClusterNodeOptions.ParseRedisUri(args[1], out _));
    }

    [Fact]
    public void Compose_cluster_replicas_check_healthz_have_time_to_hand_over_and_publish_no_fixed_host_port()
    {
        var node = ComposeService(ClusterCompose(), "streammtl");
        var health = Yaml.Strings(node, "healthcheck", "test");
        Assert.Equal(new[] { "CMD", "curl" }, health.Take(2));
        Assert.Contains("http://127.0.0.1:9464/healthz", health);
        // The image installs curl for it.
        Assert.Matches(@"apt-get install[^\n]*\bcurl\b", File.ReadAllText(Repo("docker", "Dockerfile")));
        Assert.True(ComposeDuration(Yaml.Text(node, "stop_grace_period")) >= Defaults.HandoverTimeout + TimeSpan.FromSeconds(5));
        // N replicas cannot share one host port: every published port is a range (one port per replica).
        var ports = Yaml.Strings(node, "ports");
        Assert.Equal(2, ports.Count);
        Assert.All(ports, p => Assert.Matches(@"^127\.0\.0\.1:\d+-\d+:\d+$", p));
        Assert.Contains(ports, p => p.EndsWith(":50051", StringComparison.Ordinal));
        Assert.Contains(ports, p => p.EndsWith(":9464", StringComparison.Ordinal));
    }

    private static TimeSpan ComposeDuration(string text)
    {
        var match = Regex.Match(text, @"^(\d+)(s|m)$");
        Assert.True(match.Success, $"unexpected duration '{text}'");
        int n = int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        return match.Groups[2].Value == "s" ? TimeSpan.FromSeconds(n) : TimeSpan.FromMinutes(n);
    }

    [Fact]
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    public void Compose_cluster_entrypoint_advertises_the_container_address_and_passes_the_command_to_serve()
    {
        var node = ComposeService(ClusterCompose(), "streammtl");
        var entrypoint = Yaml.Strings(node, "entrypoint");
        Assert.Equal(new[] { "/bin/sh", "-c" }, entrypoint.Take(2));
        string script = entrypoint[2];
        // Compose interpolates "$": the script's own must all be written "$$".
        Assert.DoesNotContain("$", script.Replace("$$", "", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.Contains("hostname -i", script, StringComparison.Ordinal);
        // Run it as the container would (after compose's interpolation), with a dotnet that prints what it was given.
        string dir = Directory.CreateTempSubdirectory("streammtl-entrypoint").FullName;
        try
        {
            string fake = Path.Combine(dir, "dotnet");
            File.WriteAllText(fake, "#!/bin/sh\necho \"$StreamMtl__Cluster__AdvertisedAddress|$StreamMtl__Cluster__NodeName|$*\"\n");
            File.SetUnixFileMode(fake, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            var info = new System.Diagnostics.ProcessStartInfo(entrypoint[0]) { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var arg in entrypoint.Skip(1).Select(a => a.Replace("$$", "$", StringComparison.Ordinal)).Concat(Yaml.Strings(node, "command")))
            {
                info.ArgumentList.Add(arg);
            }
            info.Environment["PATH"] = dir + ":" + Environment.GetEnvironmentVariable("PATH");
            using var process = System.Diagnostics.Process.Start(info)!;
            string output = process.StandardOutput.ReadToEnd().Trim();
            string errors = process.StandardError.ReadToEnd();
            Assert.True(process.WaitForExit(10_000), "the entrypoint did not finish");
            Assert.True(process.ExitCode == 0, errors);
            var parts = output.Split('|');
            Assert.Equal(3, parts.Length);
            Assert.True(System.Net.IPAddress.TryParse(parts[0], out _), $"advertised address '{parts[0]}' is not an IP address");
            Assert.Equal(Environment.MachineName, parts[1], ignoreCase: true);
            Assert.Equal("streammtl.dll serve --cluster redis://redis:6379 --no-camera --address 0.0.0.0", parts[2]);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
        // The same program as the image's own entrypoint.
        Assert.Contains("ENTRYPOINT [\"dotnet\", \"streammtl.dll\", \"serve\"]", File.ReadAllText(Repo("docker", "Dockerfile")), StringComparison.Ordinal);
    }

    [Fact]
    public void Compose_cluster_prometheus_finds_every_replica_by_dns_and_grafana_is_the_single_node_one()
    {
        var compose = ClusterCompose();
        var prometheus = ComposeService(compose, "prometheus");
        string mount = Assert.Single(Yaml.Strings(prometheus, "volumes"));
        Assert.Equal("./prometheus/prometheus.cluster.yml:/etc/prometheus/prometheus.yml:ro", mount);
        var config = Assert.Single(Yaml.Documents(Repo("docker", "prometheus", "prometheus.cluster.yml")));
        var job = Assert.Single(Yaml.Items(config, "scrape_configs"));
        Assert.Equal("/metrics", Yaml.Text(job, "metrics_path"));
        var dns = Assert.Single(Yaml.Items(job, "dns_sd_configs"));
        Assert.Equal(["streammtl"], Yaml.Strings(dns, "names"));
        Assert.Equal("A", Yaml.Text(dns, "type"));
        Assert.Equal("9464", Yaml.Text(dns, "port"));
        // The name it resolves is the replicated service.
        Assert.NotNull(ComposeService(compose, "streammtl"));

        var single = Assert.Single(Yaml.Documents(Repo("docker", "compose.yaml")));
        Assert.Equal(Yaml.Strings(ComposeService(single, "grafana"), "volumes"), Yaml.Strings(ComposeService(compose, "grafana"), "volumes"));
        Assert.Equal(Yaml.Text(ComposeService(single, "grafana"), "image"), Yaml.Text(ComposeService(compose, "grafana"), "image"));
    }

    [Fact]
    public void Compose_single_node_file_still_scrapes_its_service()
    {
        var single = Assert.Single(Yaml.Documents(Repo("docker", "compose.yaml")));
        Assert.Contains("127.0.0.1:9464:9464", Yaml.Strings(ComposeService(single, "streammtl"), "ports"));
        var config = Assert.Single(Yaml.Documents(Repo("docker", "prometheus", "prometheus.yml")));
        var job = Assert.Single(Yaml.Items(config, "scrape_configs"));
        Assert.Equal(["streammtl:9464"], Yaml.Strings(Assert.Single(Yaml.Items(job, "static_configs")), "targets"));
    }

    [Fact]
    public void A_compose_cluster_node_gets_a_valid_cluster_configuration()
    {
        var node = ComposeService(ClusterCompose(), "streammtl");
        var environment = ((YamlMappingNode)Yaml.At(node, "environment")).Children
            .ToDictionary(e => ((YamlScalarNode)e.Key).Value!, e => ((YamlScalarNode)e.Value).Value!);
        // What the entrypoint exports (checked above).
        environment["StreamMtl__Cluster__AdvertisedAddress"] = "172.18.0.5";
        environment["StreamMtl__Cluster__NodeName"] = "0123456789ab";
        var options = NodeConfiguration(environment, Yaml.Strings(node, "command"));
        Assert.Equal("redis:6379", options.Cluster.Redis);
        Assert.Equal("0.0.0.0", options.Endpoints.Address);
        Assert.Equal(Defaults.SiloPort, options.Cluster.SiloPort);
    }

    // ---- deploy/kubernetes ----

    private static List<YamlMappingNode> Manifests()
    {
        var kustomization = Assert.Single(Yaml.Documents(Kubernetes("kustomization.yaml")));
        return Yaml.Strings(kustomization, "resources").SelectMany(r => Yaml.Documents(Kubernetes(r))).ToList();
    }

    private static YamlMappingNode Object(List<YamlMappingNode> manifests, string kind, string name) =>
        Assert.Single(manifests, m => Yaml.Text(m, "kind") == kind && Yaml.Text(m, "metadata", "name") == name);

    private static YamlMappingNode Workload(List<YamlMappingNode> manifests) => Object(manifests, "StatefulSet", "streammtl");

    private static YamlNode Container(YamlNode workload) =>
        Assert.Single(Yaml.Items(workload, "spec", "template", "spec", "containers"), c => Yaml.Text(c, "name") == "streammtl");

    private static int ContainerPort(YamlNode container, string name) =>
        int.Parse(Yaml.Text(Assert.Single(Yaml.Items(container, "ports"), p => Yaml.Text(p, "name") == name), "containerPort"),
            System.Globalization.CultureInfo.InvariantCulture);

    [Fact]
    public void Kustomization_lists_every_manifest_in_the_folder()
    {
        var kustomization = Assert.Single(Yaml.Documents(Kubernetes("kustomization.yaml")));
        Assert.Equal("streammtl", Yaml.Text(kustomization, "namespace"));
        var listed = Yaml.Strings(kustomization, "resources").Order(StringComparer.Ordinal).ToList();
        var present = Directory.EnumerateFiles(Kubernetes(), "*.yaml").Select(f => Path.GetFileName(f)).Where(f => f != "kustomization.yaml")
            .Order(StringComparer.Ordinal).ToList();
        Assert.Equal(present, listed);
    }

    [Fact]
    public void Kubernetes_workload_runs_three_cluster_nodes_with_the_grpc_metrics_and_silo_ports()
    {
        var manifests = Manifests();
        var workload = Workload(manifests);
        Assert.True(int.Parse(Yaml.Text(workload, "spec", "replicas"), System.Globalization.CultureInfo.InvariantCulture) >= 2);
        Assert.Equal("3", Yaml.Text(workload, "spec", "replicas"));
        var container = Container(workload);
        Assert.Equal(["--cluster", "redis://redis:6379", "--no-camera", "--address", "0.0.0.0"], Yaml.Strings(container, "args"));
        Assert.Equal(50051, ContainerPort(container, "grpc"));
        Assert.Equal(9464, ContainerPort(container, "metrics"));
        Assert.Equal(Defaults.SiloPort, ContainerPort(container, "silo"));
        // The pods' labels are what the selector selects.
        var selector = ((YamlMappingNode)Yaml.At(workload, "spec", "selector", "matchLabels")).Children;
        var labels = ((YamlMappingNode)Yaml.At(workload, "spec", "template", "metadata", "labels")).Children;
        Assert.All(selector, s => Assert.Equal(s.Value, labels[s.Key]));
        Assert.Equal("streammtl-nodes", Yaml.Text(workload, "spec", "serviceName"));
        var headless = Object(manifests, "Service", "streammtl-nodes");
        Assert.Equal("None", Yaml.Text(headless, "spec", "clusterIP"));
    }

    [Fact]
    public void Kubernetes_probes_are_healthz_and_readyz_on_the_metrics_port()
    {
        var container = Container(Workload(Manifests()));
        Assert.Equal("/healthz", Yaml.Text(container, "livenessProbe", "httpGet", "path"));
        Assert.Equal("metrics", Yaml.Text(container, "livenessProbe", "httpGet", "port"));
        Assert.Equal("/readyz", Yaml.Text(container, "readinessProbe", "httpGet", "path"));
        Assert.Equal("metrics", Yaml.Text(container, "readinessProbe", "httpGet", "port"));
        Assert.Equal("/healthz", Yaml.Text(container, "startupProbe", "httpGet", "path"));
        Assert.Equal("metrics", Yaml.Text(container, "startupProbe", "httpGet", "port"));
    }

    [Fact]
    public void Kubernetes_node_has_resources_and_time_to_hand_its_streams_over()
    {
        var workload = Workload(Manifests());
        var container = Container(workload);
        Assert.Equal("2", Yaml.Text(container, "resources", "requests", "cpu"));
        Assert.Equal("3Gi", Yaml.Text(container, "resources", "requests", "memory"));
        Assert.Equal("2", Yaml.Text(container, "resources", "limits", "cpu"));
        Assert.Equal("3Gi", Yaml.Text(container, "resources", "limits", "memory"));
        int grace = int.Parse(Yaml.Text(workload, "spec", "template", "spec", "terminationGracePeriodSeconds"), System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(30, grace);
        Assert.True(TimeSpan.FromSeconds(grace) >= Defaults.HandoverTimeout + TimeSpan.FromSeconds(5));
        var annotations = Yaml.At(workload, "spec", "template", "metadata", "annotations");
        Assert.Equal("true", Yaml.Text(annotations, "prometheus.io/scrape"));
        Assert.Equal("9464", Yaml.Text(annotations, "prometheus.io/port"));
        Assert.Equal("/metrics", Yaml.Text(annotations, "prometheus.io/path"));
    }

    [Fact]
    public void Kubernetes_node_advertises_its_pod_ip_and_is_named_after_its_pod()
    {
        var env = Yaml.Items(Container(Workload(Manifests())), "env").ToList();
        var names = env.Select(e => Yaml.Text(e, "name")).ToList();
        YamlNode Var(string name) => Assert.Single(env, e => Yaml.Text(e, "name") == name);
        Assert.Equal("status.podIP", Yaml.Text(Var("POD_IP"), "valueFrom", "fieldRef", "fieldPath"));
        Assert.Equal("metadata.name", Yaml.Text(Var("POD_NAME"), "valueFrom", "fieldRef", "fieldPath"));
        Assert.Equal("$(POD_IP)", Yaml.Text(Var("StreamMtl__Cluster__AdvertisedAddress"), "value"));
        Assert.Equal("$(POD_NAME)", Yaml.Text(Var("StreamMtl__Cluster__NodeName"), "value"));
        // Kubernetes expands $(VAR) only from variables listed before it.
        Assert.True(names.IndexOf("POD_IP") < names.IndexOf("StreamMtl__Cluster__AdvertisedAddress"));
        Assert.True(names.IndexOf("POD_NAME") < names.IndexOf("StreamMtl__Cluster__NodeName"));
    }

    [Fact]
    public void A_kubernetes_node_gets_a_valid_cluster_configuration()
    {
        var manifests = Manifests();
        var container = Container(Workload(manifests));
        var environment = Yaml.Items(container, "env").Where(e => Yaml.Find(e, "value") is not null)
            .ToDictionary(e => Yaml.Text(e, "name"), e => Yaml.Text(e, "value")
                .Replace("$(POD_IP)", "10.244.1.7", StringComparison.Ordinal).Replace("$(POD_NAME)", "streammtl-1", StringComparison.Ordinal));
        var options = NodeConfiguration(environment, Yaml.Strings(container, "args"));
        Assert.Equal("10.244.1.7", options.Cluster.AdvertisedAddress);
        Assert.Equal("streammtl-1", options.Cluster.NodeName);
        Assert.Equal(ContainerPort(container, "grpc"), options.Endpoints.GrpcPort);
        Assert.Equal(ContainerPort(container, "metrics"), options.Endpoints.MetricsPort);
        Assert.Equal(ContainerPort(container, "silo"), options.Cluster.SiloPort);
        // --cluster names the redis Service, on the port it serves.
        var (host, port) = (options.Cluster.Redis!.Split(':')[0], options.Cluster.Redis.Split(':')[1]);
        var redisService = Object(manifests, "Service", host);
        Assert.Contains(Yaml.Items(redisService, "spec", "ports"), p => Yaml.Text(p, "port") == port);
    }

    [Fact]
    public void Kubernetes_redis_deployment_and_service_match_and_the_grpc_service_selects_the_nodes()
    {
        var manifests = Manifests();
        var redis = Object(manifests, "Deployment", "redis");
        var service = Object(manifests, "Service", "redis");
        var labels = ((YamlMappingNode)Yaml.At(redis, "spec", "template", "metadata", "labels")).Children;
        Assert.All(((YamlMappingNode)Yaml.At(service, "spec", "selector")).Children, s => Assert.Equal(s.Value, labels[s.Key]));
        var redisContainer = Assert.Single(Yaml.Items(redis, "spec", "template", "spec", "containers"));
        Assert.StartsWith("redis:", Yaml.Text(redisContainer, "image"), StringComparison.Ordinal);
        Assert.Equal("6379", Yaml.Text(Assert.Single(Yaml.Items(redisContainer, "ports")), "containerPort"));

        var workload = Workload(manifests);
        var grpc = Object(manifests, "Service", "streammtl");
        var podLabels = ((YamlMappingNode)Yaml.At(workload, "spec", "template", "metadata", "labels")).Children;
        Assert.All(((YamlMappingNode)Yaml.At(grpc, "spec", "selector")).Children, s => Assert.Equal(s.Value, podLabels[s.Key]));
        var port = Assert.Single(Yaml.Items(grpc, "spec", "ports"));
        Assert.Equal("50051", Yaml.Text(port, "port"));
        Assert.Equal("grpc", Yaml.Text(port, "targetPort"));
    }

    [Fact]
    public void Kubernetes_prometheus_scrape_config_keeps_the_annotated_pods()
    {
        // Debian's promtool is built without Kubernetes discovery, so this config is checked by parsing only.
        var config = Assert.Single(Yaml.Documents(Kubernetes("prometheus", "prometheus.yml")));
        var job = Assert.Single(Yaml.Items(config, "scrape_configs"));
        var discovery = Assert.Single(Yaml.Items(job, "kubernetes_sd_configs"));
        Assert.Equal("pod", Yaml.Text(discovery, "role"));
        Assert.Equal(["streammtl"], Yaml.Strings(discovery, "namespaces", "names"));
        var keep = Assert.Single(Yaml.Items(job, "relabel_configs"), r => Yaml.Find(r, "action") is YamlScalarNode { Value: "keep" });
        Assert.Equal(["__meta_kubernetes_pod_annotation_prometheus_io_scrape"], Yaml.Strings(keep, "source_labels"));
        Assert.Equal("true", Yaml.Text(keep, "regex"));
        // The relabelling that moves the scrape to the annotated port turns a pod address into IP:9464.
        var address = Assert.Single(Yaml.Items(job, "relabel_configs"), r => Yaml.Find(r, "target_label") is YamlScalarNode { Value: "__address__" });
        var regex = new Regex("^(?:" + Yaml.Text(address, "regex") + ")$");
        string replaced = regex.Replace("10.244.1.7:8080;9464", Yaml.Text(address, "replacement").Replace("$1", "${1}", StringComparison.Ordinal));
        Assert.Equal("10.244.1.7:9464", replaced);
    }

    /// <summary>
    /// The options a node binds from: shipped appsettings.json, the image's ENV, <paramref name="environment"/> and the
    /// serve arguments (as ServeCommand maps them); unknown StreamMtl keys fail, and the result must validate.
    /// </summary>
    private static ServiceOptions NodeConfiguration(IDictionary<string, string> environment, IReadOnlyList<string> serveArgs)
    {
        var image = Regex.Matches(File.ReadAllText(Repo("docker", "Dockerfile")), @"(StreamMtl__\S+)=(\S+)")
            .ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value);
        Assert.NotEmpty(image);
        var settings = new Dictionary<string, string?>();
        // Later sources override earlier ones, as in the service (environment over the image's ENV).
        foreach (var (key, value) in image.Concat(environment).Where(e => e.Key.StartsWith("StreamMtl__", StringComparison.Ordinal)))
        {
            settings[key.Replace("__", ":", StringComparison.Ordinal)] = value;
        }
        for (int i = 0; i < serveArgs.Count; i++)
        {
            switch (serveArgs[i])
            {
                case "--cluster":
                    settings["StreamMtl:Cluster:Redis"] = ClusterNodeOptions.ParseRedisUri(serveArgs[++i], out string? error) ?? throw new Xunit.Sdk.XunitException(error);
                    break;
                case "--address":
                    settings["StreamMtl:Endpoints:Address"] = serveArgs[++i];
                    break;
                case "--no-camera":
                    settings["StreamMtl:StartDeclaredStreams"] = "false";
                    break;
                default:
                    throw new Xunit.Sdk.XunitException($"serve argument '{serveArgs[i]}' is not mapped here");
            }
        }
        // A misspelt key binds to nothing silently in the service: here it fails.
        var strict = new ConfigurationBuilder().AddInMemoryCollection(settings).Build().GetSection(ServiceOptions.Section);
        strict.Get<ServiceOptions>(o => o.ErrorOnUnknownConfiguration = true);
        var options = new ConfigurationBuilder()
            .AddJsonFile(Path.Combine(AppContext.BaseDirectory, "appsettings.json"))
            .AddInMemoryCollection(settings)
            .Build().GetSection(ServiceOptions.Section).Get<ServiceOptions>()!;
        Assert.Empty(options.Validate());
        Assert.True(options.Cluster.Enabled);
        Assert.False(options.StartDeclaredStreams);
        return options;
    }

    /// <summary>YamlDotNet's representation model with errors that name the missing key.</summary>
    private static class Yaml
    {
        public static List<YamlMappingNode> Documents(string path)
        {
            var stream = new YamlStream();
            using (var reader = new StreamReader(path))
            {
                stream.Load(reader);
            }
            return stream.Documents.Select(d => Assert.IsType<YamlMappingNode>(d.RootNode)).ToList();
        }

        public static YamlNode? Find(YamlNode node, string key) =>
            node is YamlMappingNode map && map.Children.TryGetValue(new YamlScalarNode(key), out var value) ? value : null;

        public static YamlNode At(YamlNode node, params string[] path)
        {
            foreach (var key in path)
            {
                node = Find(node, key) ?? throw new Xunit.Sdk.XunitException($"no '{key}' on the path {string.Join(".", path)} (at line {node.Start.Line})");
            }
            return node;
        }

        public static string Text(YamlNode node, params string[] path) => Assert.IsType<YamlScalarNode>(At(node, path)).Value ?? "";

        public static IEnumerable<YamlNode> Items(YamlNode node, params string[] path) => Assert.IsType<YamlSequenceNode>(At(node, path)).Children;

        public static List<string> Strings(YamlNode node, params string[] path) =>
            Items(node, path).Select(n => Assert.IsType<YamlScalarNode>(n).Value ?? "").ToList();
    }
}
