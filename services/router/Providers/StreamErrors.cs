using System.Runtime.CompilerServices;
using Gateway.Common.Errors;

namespace Gateway.Router.Providers;

public static class StreamErrors
{
    // Turns transport failures while reading a provider's stream into typed gateway errors.
    public static async IAsyncEnumerable<T> Guard<T>(ProviderTarget target, IAsyncEnumerable<T> events, CancellationToken timeoutToken, [EnumeratorCancellation] CancellationToken callerToken)
    {
        await using var enumerator = events.GetAsyncEnumerator(callerToken);
        while (true)
        {
            try
            {
                if (!await enumerator.MoveNextAsync())
                {
                    yield break;
                }
            }
            catch (InvalidDataException)
            {
                // A binary event stream (Bedrock) whose framing or checksums do not hold, or an SSE event past its size limit.
                throw new GatewayException(ErrorKind.UpstreamError, $"Provider '{target.ProviderName}' sent a corrupt event stream.");
            }
            catch (Exception e) when (ReadFailure(target, e, timeoutToken.IsCancellationRequested && !callerToken.IsCancellationRequested, "stream") is { } failure)
            {
                throw failure;
            }
            yield return enumerator.Current;
        }
    }

    // A transport failure while reading a provider's body (`what`: its stream, or its answer) as a typed gateway
    // error; null for anything else, a caller's own cancellation included, which travels on as it is.
    public static GatewayException? ReadFailure(ProviderTarget target, Exception exception, bool timedOut, string what) => exception switch
    {
        OperationCanceledException when timedOut
            => new GatewayException(ErrorKind.UpstreamTimeout, $"Provider '{target.ProviderName}' did not finish its {what} within {target.Config.TimeoutSeconds:0.#} s."),
        IOException or HttpRequestException => new GatewayException(ErrorKind.UpstreamError, $"The {what} from provider '{target.ProviderName}' broke off."),
        _ => null,
    };
}
