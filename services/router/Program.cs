using Gateway.Router;

RouterHost.Build(args).Run();
