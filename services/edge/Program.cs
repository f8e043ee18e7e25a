using Gateway.Edge;
using Gateway.Edge.Cli;

if (KeysCommand.TryRun(args, Console.Out, out var exitCode) || PromptsCommand.TryRun(args, Console.Out, out exitCode))
{
    return exitCode;
}

EmbeddedGateway.Build(args).Run();
return 0;
