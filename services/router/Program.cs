using Gateway.Common.Hosting;
using Gateway.Router;
using Gateway.Traces;

var builder = ServiceHost.Create(args, "router", out var config);
builder.Services.AddRouter(config);
builder.Services.AddRouterDependencies(config);
builder.Services.AddTraces(config);

var app = builder.Build();
app.MapGatewayDefaults();
app.MapRouter();
app.Run();
