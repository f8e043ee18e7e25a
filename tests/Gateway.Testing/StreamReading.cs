namespace Gateway.Testing;

public static class StreamReading
{
    // Reads a streamed response to its end, and says whether it ended cleanly or was cut off (the gateway
    // aborts a stream that fails after it started, so no client takes it for a complete answer).
    public static async Task<(string Text, bool Aborted)> ReadToEndOrAbortAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var received = new System.Text.StringBuilder();
        try
        {
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancellationToken));
            while (await reader.ReadLineAsync(cancellationToken) is { } line)
            {
                received.AppendLine(line);
            }
            return (received.ToString(), false);
        }
        catch (Exception e) when (e is IOException or HttpRequestException)
        {
            return (received.ToString(), true);
        }
    }
}
