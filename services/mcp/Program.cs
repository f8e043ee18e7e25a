using Gateway.Common.Hosting;
using Gateway.Mcp;

var builder = ServiceHost.Create(args, "mcp", out var config);
builder.Services.AddMcp(config);

var app = builder.Build();
app.MapGatewayDefaults();
app.MapMcp();
app.Run();
