using Gateway.Common.Hosting;
using Gateway.Traces;

var builder = ServiceHost.Create(args, "traces", out var config);
builder.Services.AddTraces(config);

var app = builder.Build();
app.MapGatewayDefaults();
app.MapTraces();
app.Run();
