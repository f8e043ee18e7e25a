namespace Gateway.Traces.Tests.Admin;

// Remembers the x-request-id of the last response, streamed or not, whatever SDK sent the request.
public sealed class RequestIdRecorder : DelegatingHandler
{
    public RequestIdRecorder() : base(new HttpClientHandler())
    {
    }

    public string? Last { get; private set; }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var response = await base.SendAsync(request, cancellationToken);
        Last = response.Headers.TryGetValues("x-request-id", out var ids) ? ids.Single() : null;
        return response;
    }
}
