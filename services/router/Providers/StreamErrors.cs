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
            catch (OperationCanceledException) when (timeoutToken.IsCancellationRequested && !callerToken.IsCancellationRequested)
            {
                throw new GatewayException(ErrorKind.UpstreamTimeout, $"Provider '{target.ProviderName}' did not finish its stream within {target.Config.TimeoutSeconds:0.#} s.");
            }
            catch (InvalidDataException)
            {
                // A binary event stream (Bedrock) whose framing or checksums do not hold, or an SSE event past its size limit.
                throw new GatewayException(ErrorKind.UpstreamError, $"Provider '{target.ProviderName}' sent a corrupt event stream.");
            }
            catch (Exception e) when (e is IOException or HttpRequestException)
            {
                throw new GatewayException(ErrorKind.UpstreamError, $"The stream from provider '{target.ProviderName}' broke off.");
            }
            yield return enumerator.Current;
        }
    }
}
