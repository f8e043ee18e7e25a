using Gateway.FakeDaprSidecar;

// TEST ONLY. Usage: Gateway.FakeDaprSidecar --grpc-port PORT --app http://127.0.0.1:APP_HTTP_PORT [--app …]
return await FakeDaprSidecar.RunAsync(args);
