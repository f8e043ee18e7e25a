using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Gateway.Common.Configuration;
using Grpc.Core;
using Grpc.Net.Client.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Gateway.Common.Clients;

public static class ServiceClientRegistration
{
    // A gRPC client for a service in another process. Retries only on Unavailable, through gRPC's own retry
    // policy in the channel's service config (the HTTP resilience handler cannot see gRPC status in trailers);
    // the call context and deadline come from CallContextClientInterceptor; https:// addresses use services.tls.
    public static IServiceCollection AddServiceClient<TClient>(this IServiceCollection services, string address, ServicesConfig config) where TClient : class
    {
        services.AddSingleton<CallContextClientInterceptor>();
        services.AddGrpcClient<TClient>(options => options.Address = new Uri(address))
            .AddInterceptor<CallContextClientInterceptor>()
            .ConfigurePrimaryHttpMessageHandler(() => Handler(config.Tls))
            .ConfigureChannel(channel => channel.ServiceConfig = RetryOnUnavailable());
        return services;
    }

    public static ServiceConfig RetryOnUnavailable() => new()
    {
        MethodConfigs =
        {
            new MethodConfig
            {
                Names = { MethodName.Default },
                RetryPolicy = new RetryPolicy
                {
                    MaxAttempts = 3,
                    InitialBackoff = TimeSpan.FromMilliseconds(50),
                    MaxBackoff = TimeSpan.FromMilliseconds(500),
                    BackoffMultiplier = 2,
                    RetryableStatusCodes = { StatusCode.Unavailable },
                },
            },
        },
    };

    private static SocketsHttpHandler Handler(ClientTlsConfig? tls)
    {
        var handler = new SocketsHttpHandler
        {
            EnableMultipleHttp2Connections = true,
            PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
            KeepAlivePingDelay = TimeSpan.FromSeconds(60),
            KeepAlivePingTimeout = TimeSpan.FromSeconds(30),
        };
        if (tls is null)
        {
            return handler;
        }
        var ssl = new SslClientAuthenticationOptions();
        if (tls.Cert is { } cert && tls.Key is { } key)
        {
            ssl.ClientCertificates = [X509Certificate2.CreateFromPemFile(cert, key)];
        }
        if (tls.Ca is { } caFile)
        {
            var ca = X509CertificateLoader.LoadCertificateFromFile(caFile);
            ssl.RemoteCertificateValidationCallback = (_, certificate, _, errors) => TlsTrust.ChainsTo(certificate, ca, errors, X509RevocationMode.NoCheck);
        }
        handler.SslOptions = ssl;
        return handler;
    }
}

// Trust in a private CA: a certificate is valid when it chains to that CA (names are still checked).
public static class TlsTrust
{
    public static bool ChainsTo(X509Certificate? certificate, X509Certificate2 ca, SslPolicyErrors errors, X509RevocationMode revocation)
    {
        if (certificate is null || (errors & (SslPolicyErrors.RemoteCertificateNameMismatch | SslPolicyErrors.RemoteCertificateNotAvailable)) != 0)
        {
            return false;
        }
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = revocation;
        using var leaf = new X509Certificate2(certificate);
        return chain.Build(leaf);
    }
}
