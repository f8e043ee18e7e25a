using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Gateway.Common.Clients;
using Gateway.Common.Configuration;
using Gateway.Common.Hosting;
using Gateway.Contracts.Guard.V1;
using Gateway.Guard;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

namespace Gateway.Mesh.Tests;

// A service's gRPC port with server.tls and client_ca (mTLS), called over real sockets by the service client
// configured with services.tls: the call goes through only with the private CA trusted and a client
// certificate that CA signed.
public sealed class TlsTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Now = TimeProvider.System.GetUtcNow();
    private readonly string _directory = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "gateway-tls-tests", Guid.NewGuid().ToString("N"));
    private WebApplication _guard = null!;
    private string _address = "";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        Directory.CreateDirectory(_directory);
        using var ca = CreateCa("gateway test CA");
        using var rogue = CreateCa("someone else's CA");
        await File.WriteAllTextAsync(Path("ca.pem"), ca.ExportCertificatePem(), Ct);
        await File.WriteAllTextAsync(Path("rogue-ca.pem"), rogue.ExportCertificatePem(), Ct);
        await WriteLeafAsync(ca, "server", server: true);
        await WriteLeafAsync(ca, "client", server: false);
        await WriteLeafAsync(rogue, "rogue-client", server: false);
        await File.WriteAllTextAsync(Path("guard.yaml"), $$"""
            keys: []
            server:
              tls: { cert: "{{Path("server.pem")}}", key: "{{Path("server.key")}}", client_ca: "{{Path("ca.pem")}}" }
            """, Ct);

        var grpc = FreePort.Get();
        var builder = ServiceHost.Create(["--config", Path("guard.yaml"), "--grpc", $"127.0.0.1:{grpc}", "--http", $"127.0.0.1:{FreePort.Get()}"], "guard", out var config);
        builder.Services.AddGuard(config);
        _guard = builder.Build();
        _guard.MapGuard();
        await _guard.StartAsync(Ct);
        _address = $"https://127.0.0.1:{grpc}";
    }

    public async ValueTask DisposeAsync()
    {
        await _guard.StopAsync();
        await _guard.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task Call_WithTheCaAndAClientCertificate_IsServed()
    {
        await using var client = Client(new ClientTlsConfig { Ca = Path("ca.pem"), Cert = Path("client.pem"), Key = Path("client.key") });

        var verdict = await client.Guard.ScanAsync(new ScanRequest { Text = "write to maria.schmidt@example.com" }, cancellationToken: Ct);

        Assert.Contains(verdict.Findings, f => f.EntityType == "EMAIL");
    }

    [Fact]
    public async Task Call_WithoutAClientCertificate_IsRefused()
    {
        await using var client = Client(new ClientTlsConfig { Ca = Path("ca.pem") });

        await Assert.ThrowsAsync<RpcException>(() => client.Guard.ScanAsync(new ScanRequest { Text = "hello" }, cancellationToken: Ct).ResponseAsync);
    }

    [Fact]
    public async Task Call_WithAClientCertificateFromAnotherCa_IsRefused()
    {
        await using var client = Client(new ClientTlsConfig { Ca = Path("ca.pem"), Cert = Path("rogue-client.pem"), Key = Path("rogue-client.key") });

        await Assert.ThrowsAsync<RpcException>(() => client.Guard.ScanAsync(new ScanRequest { Text = "hello" }, cancellationToken: Ct).ResponseAsync);
    }

    [Fact]
    public async Task Call_ToAServerTheClientDoesNotTrust_IsRefused()
    {
        await using var client = Client(new ClientTlsConfig { Ca = Path("rogue-ca.pem"), Cert = Path("client.pem"), Key = Path("client.key") });

        await Assert.ThrowsAsync<RpcException>(() => client.Guard.ScanAsync(new ScanRequest { Text = "hello" }, cancellationToken: Ct).ResponseAsync);
    }

    private GuardClientScope Client(ClientTlsConfig tls)
    {
        var config = new GatewayConfig { Services = new ServicesConfig { Tls = tls } };
        var services = new ServiceCollection();
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton(new ConfigMonitor(config, null, NullLogger<ConfigMonitor>.Instance));
        services.AddLogging();
        services.AddServiceClient<Contracts.Guard.V1.Guard.GuardClient>(_address, config.Services);
        return new GuardClientScope(services.BuildServiceProvider());
    }

    private sealed class GuardClientScope(ServiceProvider provider) : IAsyncDisposable
    {
        public Contracts.Guard.V1.Guard.GuardClient Guard { get; } = provider.GetRequiredService<Contracts.Guard.V1.Guard.GuardClient>();

        public ValueTask DisposeAsync() => provider.DisposeAsync();
    }

    private string Path(string file) => System.IO.Path.Combine(_directory, file);

    private static X509Certificate2 CreateCa(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        return request.CreateSelfSigned(Now.AddDays(-1), Now.AddDays(1));
    }

    private async Task WriteLeafAsync(X509Certificate2 ca, string name, bool server)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [new System.Security.Cryptography.Oid(server ? "1.3.6.1.5.5.7.3.1" : "1.3.6.1.5.5.7.3.2")], false));
        if (server)
        {
            var names = new SubjectAlternativeNameBuilder();
            names.AddIpAddress(IPAddress.Loopback);
            names.AddDnsName("localhost");
            request.CertificateExtensions.Add(names.Build());
        }
        using var certificate = request.Create(ca, Now.AddHours(-1), Now.AddDays(1), RandomNumberGenerator.GetBytes(16));
        await File.WriteAllTextAsync(Path($"{name}.pem"), certificate.ExportCertificatePem(), Ct);
        await File.WriteAllTextAsync(Path($"{name}.key"), key.ExportPkcs8PrivateKeyPem(), Ct);
    }
}
