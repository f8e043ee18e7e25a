using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Gateway.Traces.Ingest;

namespace Gateway.Traces.Tests.Admin;

// Reading traces back as an operator would: wait until the ingestor stored one, then ask the admin API.
public static class AdminApi
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    // Completes once the trace of `requestId` is in the gateway's trace store.
    public static async Task WaitStoredAsync(TestGateway gateway, string requestId)
    {
        var ingestor = (TraceIngestor)gateway.Services.GetService(typeof(TraceIngestor))!;
        // The store's tables exist once the ingestor has run its migrations (ClickHouse: at start, asynchronously).
        await ingestor.Ready.WaitAsync(TimeSpan.FromSeconds(30), Ct);
        var stored = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        async Task CheckAsync()
        {
            if (await ingestor.Store.GetAsync(requestId, CancellationToken.None) is not null)
            {
                stored.TrySetResult();
            }
        }
        void OnWritten(int count) => _ = CheckAsync();
        ingestor.Written += OnWritten;
        try
        {
            await CheckAsync();
            await stored.Task.WaitAsync(TimeSpan.FromSeconds(20), Ct);
        }
        finally
        {
            ingestor.Written -= OnWritten;
        }
    }

    // GET on the admin API with the admin key: status and JSON body.
    public static async Task<(HttpStatusCode Status, JsonElement Body)> GetAsync(TestGateway gateway, string path)
    {
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(gateway.HttpBase, path));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", AdminTracesTests.AdminKey);
        using var response = await http.SendAsync(request, Ct);
        return (response.StatusCode, JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct)).RootElement.Clone());
    }
}
