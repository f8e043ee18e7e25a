using Gateway.Common.Hosting;
using Gateway.Budget;

var builder = ServiceHost.Create(args, "budget", out var config);
builder.Services.AddBudget(config);

var app = builder.Build();
app.MapGatewayDefaults();
app.MapBudget();
app.Run();
