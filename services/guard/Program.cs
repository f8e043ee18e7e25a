using Gateway.Common.Hosting;
using Gateway.Guard;

var builder = ServiceHost.Create(args, "guard", out var config);
builder.Services.AddGuard(config);

var app = builder.Build();
app.MapGatewayDefaults();
app.MapGuard();
app.Run();
