using Gateway.Common.Hosting;
using Gateway.Prompts;

var builder = ServiceHost.Create(args, "prompts", out var config);
builder.Services.AddPrompts(config);

var app = builder.Build();
app.MapGatewayDefaults();
app.MapPrompts();
app.Run();
