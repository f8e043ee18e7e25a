# router: the router (Inference gRPC API, pipeline, providers).
# Build from the repository root: docker build -f deploy/docker/router.Dockerfile -t gateway-router .
FROM mcr.microsoft.com/dotnet/sdk:10.0-alpine AS build
WORKDIR /src
COPY global.json Directory.Build.props Directory.Packages.props BannedSymbols.txt .editorconfig ./
COPY protos/ protos/
COPY services/ services/
RUN dotnet publish services/router/Gateway.Router.csproj -c Release -o /app

FROM mcr.microsoft.com/dotnet/aspnet:10.0-alpine
WORKDIR /app
COPY --from=build /app .
# The image's unprivileged user (APP_UID); nothing in /app is writable by it.
USER $APP_UID
# 8080: HTTP/1.1 (REST, health, metrics, Dapr callbacks); 8081: gRPC (h2c, or TLS with server.tls).
EXPOSE 8080 8081
# A 16 MB gen0 budget: server GC's default budget holds ~90 MB more memory at saturation for no measurable
# throughput gain (docs/performance.md, "Memory"); the runtime reads this knob from the environment only.
ENV GATEWAY_CONFIG=/etc/gateway/gateway.yaml \
    DOTNET_gcServer=1 \
    DOTNET_GCgen0size=0x1000000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD wget -qO- http://127.0.0.1:8080/healthz >/dev/null || exit 1
ENTRYPOINT ["dotnet", "Gateway.Router.dll", "--http", "*:8080", "--grpc", "*:8081"]
