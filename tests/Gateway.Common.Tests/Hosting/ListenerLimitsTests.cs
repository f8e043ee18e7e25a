using Gateway.Common.Configuration;
using Gateway.Common.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Gateway.Common.Tests.Hosting;

// server.limits reaches Kestrel on every port of every process (the HTTP/2 stream cap governs the gRPC port,
// which no REST test exercises); the end-to-end behaviour is in Gateway.Security.Tests TransportLimitsTests.
public sealed class ListenerLimitsTests
{
    [Fact]
    public void ApplyLimits_ConfiguredValues_ReachKestrel()
    {
        var kestrel = new KestrelServerOptions();

        Listeners.ApplyLimits(kestrel, new ServerLimitsConfig
        {
            MaxRequestHeaderBytes = 8192,
            MaxRequestHeaders = 40,
            RequestHeadersTimeoutSeconds = 7,
            MinRequestBodyBytesPerSecond = 500,
            MinRequestBodyGraceSeconds = 3,
            KeepAliveTimeoutSeconds = 60,
            Http2MaxStreamsPerConnection = 16,
        });

        Assert.Equal(8192, kestrel.Limits.MaxRequestHeadersTotalSize);
        Assert.Equal(40, kestrel.Limits.MaxRequestHeaderCount);
        Assert.Equal(TimeSpan.FromSeconds(7), kestrel.Limits.RequestHeadersTimeout);
        Assert.Equal(500, kestrel.Limits.MinRequestBodyDataRate!.BytesPerSecond);
        Assert.Equal(TimeSpan.FromSeconds(3), kestrel.Limits.MinRequestBodyDataRate.GracePeriod);
        Assert.Equal(TimeSpan.FromSeconds(60), kestrel.Limits.KeepAliveTimeout);
        Assert.Equal(16, kestrel.Limits.Http2.MaxStreamsPerConnection);
        Assert.True(kestrel.Limits.Http2.MaxRequestHeaderFieldSize <= 8192);
        Assert.False(kestrel.AddServerHeader);
    }

    [Fact]
    public void ApplyLimits_ZeroBodyRate_TurnsTheCheckOff()
    {
        var kestrel = new KestrelServerOptions();

        Listeners.ApplyLimits(kestrel, new ServerLimitsConfig { MinRequestBodyBytesPerSecond = 0 });

        Assert.Null(kestrel.Limits.MinRequestBodyDataRate);
    }

    [Fact]
    public void RaiseToCeiling_LetsKestrelTakeTwiceTheConfiguredHeaders_SoTheEdgeCanRefuseThemInShape()
    {
        var kestrel = new KestrelServerOptions();
        var limits = new ServerLimitsConfig { MaxRequestHeaderBytes = 8192, MaxRequestHeaders = 40 };
        Listeners.ApplyLimits(kestrel, limits);

        HeaderLimits.RaiseToCeiling(kestrel, limits);

        Assert.Equal(16384, kestrel.Limits.MaxRequestHeadersTotalSize);
        Assert.Equal(80, kestrel.Limits.MaxRequestHeaderCount);
        Assert.Equal(16384, kestrel.Limits.Http2.MaxRequestHeaderFieldSize);
    }

    [Fact]
    public void Check_CountsEveryValueOfARepeatedHeader_AndTheBytesOfNamesAndValues()
    {
        var limits = new ServerLimitsConfig { MaxRequestHeaderBytes = 4096, MaxRequestHeaders = 16 };
        var fits = new Microsoft.AspNetCore.Http.HeaderDictionary { ["x-a"] = new string('a', 4000) };
        var repeated = new Microsoft.AspNetCore.Http.HeaderDictionary { ["x-a"] = new Microsoft.Extensions.Primitives.StringValues([.. Enumerable.Repeat("v", 17)]) };
        var large = new Microsoft.AspNetCore.Http.HeaderDictionary { ["x-a"] = new string('a', 4090) };

        Assert.Null(HeaderLimits.Check(fits, limits));
        Assert.Equal("request_header_fields_too_large", HeaderLimits.Check(repeated, limits)?.Code);
        Assert.Equal(431, Gateway.Common.Errors.ErrorMapping.HttpStatus(HeaderLimits.Check(large, limits)!.Kind));
    }
}
