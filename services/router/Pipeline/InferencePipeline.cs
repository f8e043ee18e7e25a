using System.Runtime.CompilerServices;
using Gateway.Common;
using Gateway.Common.Clients;
using Gateway.Common.Configuration;
using Gateway.Common.Errors;
using Gateway.Common.Events;
using Gateway.Common.Pricing;
using Gateway.Common.Security;
using Gateway.Contracts.Budget.V1;
using Gateway.Contracts.Common.V1;
using Gateway.Contracts.Guard.V1;
using Gateway.Contracts.Inference.V1;
using Gateway.Contracts.Prompts.V1;
using Gateway.Router.Providers;
using Gateway.Router.Routing;
using Microsoft.Extensions.Logging;

namespace Gateway.Router.Pipeline;

// The request pipeline: authenticate -> resolve prompt -> guard input -> reserve budget -> call providers
// with failover -> guard output -> settle -> publish the trace. Every step is timed into the trace; every
// refusal is a typed GatewayException that each surface maps to its own error shape.
public sealed class InferencePipeline(
    CredentialAuthenticator credentials,
    ConfigMonitor config,
    RoutePlanner planner,
    FailoverRunner failover,
    ProviderRegistry providers,
    IGuardService guard,
    IBudgetService budget,
    IPromptService prompts,
    IEventBus events,
    TimeProvider time,
    RouterTelemetry telemetry,
    StreamSlots streamSlots,
    ILogger<InferencePipeline> logger) : IInferenceService
{
    public async Task<ChatResponse> ChatAsync(ChatRequest request, string? apiKey, CancellationToken cancellationToken)
    {
        // A malformed request is refused before it leaves any trace, hold or call behind.
        RequestLimits.Check(request);
        var context = Begin(request.RequestId, ApiName(request.Api), stream: false);
        Reservation? reservation = null;
        try
        {
            request = await PrepareAsync(context, request, apiKey, cancellationToken);
            CallContext.Enter(context.RequestId, context.Principal, time, config);
            reservation = await ReserveAsync(context, request, cancellationToken);
            var (response, target) = await CallWithFailoverAsync(context, request, cancellationToken);
            response = await GuardOutputAsync(context, response, cancellationToken);
            // Redacted capture keeps the answer as guarded (placeholders still in); full keeps what the client gets.
            RequestCapture.GuardedResponse(context, response);
            StreamGuard.Restore(response, context.Pseudonyms);
            RequestCapture.ClientResponse(context, response);
            Complete(context, target, response.Usage);
            await SettleAsync(context, reservation, response.Usage, cancellationToken);
            reservation = null;
            if (response.Created == 0)
            {
                response.Created = time.GetUtcNow().ToUnixTimeSeconds();
            }
            response.Served = Served(context, target);
            return response;
        }
        catch (Exception e)
        {
            throw Fail(context, e);
        }
        finally
        {
            await ReleaseAsync(reservation);
            await PublishAsync(context);
        }
    }

    public async IAsyncEnumerable<ChatChunk> ChatStreamAsync(ChatRequest request, string? apiKey, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        RequestLimits.Check(request);
        var context = Begin(request.RequestId, ApiName(request.Api), stream: true);
        Reservation? reservation = null;
        IAsyncEnumerator<ChatChunk>? upstream = null;
        StreamSlots.Slot? slot = null;
        try
        {
            ProviderTarget target;
            ChatChunk first;
            try
            {
                request = await PrepareAsync(context, request, apiKey, cancellationToken);
                slot = streamSlots.Acquire(context.Principal!);
                CallContext.Enter(context.RequestId, context.Principal, time, config);
                reservation = await ReserveAsync(context, request, cancellationToken);
                (upstream, first, target) = await OpenStreamWithFailoverAsync(context, request, cancellationToken);
            }
            catch (Exception e)
            {
                throw Fail(context, e);
            }

            first.Served = Served(context, target);
            var capture = RequestCapture.Stream(context);
            var streamGuard = StreamGuard.Create(context.Pseudonyms, context.ScanOutput ? (text, kind, ct) => ScanStreamAsync(context, text, kind, ct) : null, capture);
            if (streamGuard is not null)
            {
                try
                {
                    await streamGuard.ApplyAsync(first, cancellationToken);
                }
                catch (Exception e)
                {
                    throw Fail(context, e);
                }
            }
            capture?.Observe(first);
            Usage? usage = first.Usage;
            var includeUsage = request.IncludeUsage;
            var usageSent = false;
            if (Forward(first, includeUsage, ref usageSent))
            {
                yield return first;
            }
            while (true)
            {
                ChatChunk chunk;
                try
                {
                    if (!await upstream.MoveNextAsync())
                    {
                        break;
                    }
                    chunk = upstream.Current;
                    if (streamGuard is not null)
                    {
                        await streamGuard.ApplyAsync(chunk, cancellationToken);
                    }
                }
                catch (Exception e)
                {
                    // After the first byte there is no failover: the edge sends an error event and aborts.
                    throw Fail(context, e);
                }
                usage = chunk.Usage ?? usage;
                capture?.Observe(chunk);
                if (Forward(chunk, includeUsage, ref usageSent))
                {
                    yield return chunk;
                }
            }
            ChatChunk? tail = null;
            if (streamGuard is not null)
            {
                try
                {
                    tail = await streamGuard.FinishAsync(first, cancellationToken);
                }
                catch (Exception e)
                {
                    throw Fail(context, e);
                }
            }
            if (tail is not null)
            {
                capture?.Observe(tail);
                yield return tail;
            }
            Complete(context, target, usage);
            if (includeUsage && !usageSent)
            {
                yield return new ChatChunk { Id = first.Id, Model = first.Model, Created = first.Created, Usage = usage ?? new Usage() };
            }
            await SettleAsync(context, reservation, usage, cancellationToken);
            reservation = null;
        }
        finally
        {
            if (upstream is not null)
            {
                await upstream.DisposeAsync();
            }
            slot?.Dispose();
            await ReleaseAsync(reservation);
            await PublishAsync(context);
        }
    }

    // Usage travels only when the client asked for it (stream_options.include_usage); it is always
    // requested upstream so the gateway can settle budgets.
    private static bool Forward(ChatChunk chunk, bool includeUsage, ref bool usageSent)
    {
        if (chunk.Usage is not null)
        {
            if (includeUsage)
            {
                usageSent = true;
            }
            else
            {
                chunk.Usage = null;
                return chunk.Choices.Count > 0;
            }
        }
        return true;
    }

    public async Task<EmbedResponse> EmbedAsync(EmbedRequest request, string? apiKey, CancellationToken cancellationToken)
    {
        RequestLimits.Check(request);
        var context = Begin(request.RequestId, "embeddings", stream: false);
        Reservation? reservation = null;
        try
        {
            context.Principal = await AuthenticateAsync(context, apiKey, cancellationToken);
            CallContext.Enter(context.RequestId, context.Principal, time, config);
            context.Trace.RequestedModel = request.Model;
            EnsureModel(context, request.Model);
            request = await GuardEmbeddingsAsync(context, request, cancellationToken);
            var current = context.Config;
            current.Models.TryGetValue(request.Model, out var priced);
            var (maxCost, maxTokens) = NeedsMaxCost(current, context.Principal)
                ? CostCalculator.MaxCost(PriceTable.For(request.Model, priced), request, priced?.Targets.FirstOrDefault()?.Model ?? request.Model)
                : (0, 0);
            var admitted = await AdmitAsync(context, request.Model, maxCost, maxTokens, cancellationToken);
            reservation = admitted;
            var routingStart = System.Diagnostics.Stopwatch.GetTimestamp();
            GatewayException? last = null;
            foreach (var target in planner.Plan(context.Config, request.Model, context.Residency))
            {
                context.Trace.Latencies.RoutingMs += RequestContext.Since(routingStart);
                var provider = providers.Embeddings(target);
                if (provider is null)
                {
                    last = GatewayException.BadRequest($"Model '{target.PublicModel}' is served by a provider that has no embeddings API.", "model", "embeddings_not_supported");
                    continue;
                }
                var attemptStart = System.Diagnostics.Stopwatch.GetTimestamp();
                context.ProviderStarted();
                try
                {
                    var response = await provider.EmbedAsync(target, request, cancellationToken);
                    context.ProviderFinished();
                    RecordAttempt(context, target, 200, "", attemptStart);
                    Complete(context, target, response.Usage);
                    RequestCapture.EmbeddingsResponse(context, response);
                    await SettleAsync(context, admitted, response.Usage, cancellationToken);
                    reservation = null;
                    response.Served = Served(context, target);
                    return response;
                }
                catch (GatewayException e) when (e.IsRetryable)
                {
                    RecordAttempt(context, target, e.UpstreamStatus ?? ErrorMapping.HttpStatus(e.Kind), e.Code, attemptStart);
                    last = e;
                }
                routingStart = System.Diagnostics.Stopwatch.GetTimestamp();
            }
            throw last ?? new GatewayException(ErrorKind.Unavailable, $"No deployment of '{request.Model}' is available.");
        }
        catch (Exception e)
        {
            throw Fail(context, e);
        }
        finally
        {
            await ReleaseAsync(reservation);
            await PublishAsync(context);
        }
    }

    public async Task<ListModelsResponse> ListModelsAsync(string? apiKey, CancellationToken cancellationToken)
    {
        var principal = await credentials.AuthenticateAsync(apiKey, cancellationToken);
        var response = new ListModelsResponse();
        foreach (var (name, model) in config.Current.Models)
        {
            if (principal.AllowedModels.Count == 0 || principal.AllowedModels.Contains(name))
            {
                response.Models.Add(new ModelInfo { Id = name, Created = 0, OwnedBy = model.OwnedBy ?? "gateway" });
            }
        }
        return response;
    }

    // ---- steps --------------------------------------------------------------------------------------

    private RequestContext Begin(string requestId, string api, bool stream)
        => new(requestId.Length > 0 ? requestId : NewRequestId(), api, time.GetUtcNow(), stream, config.Current) { Activity = RequestSpans.Start(telemetry, api) };

    public static string NewRequestId() => Ids.NewId();

    private async Task<ChatRequest> PrepareAsync(RequestContext context, ChatRequest request, string? apiKey, CancellationToken cancellationToken)
    {
        context.Principal = await AuthenticateAsync(context, apiKey, cancellationToken);
        // Calls to other services carry the principal from here on. An async method's changes to the ambient
        // context end when it returns, so each caller that awaited this step enters it again.
        CallContext.Enter(context.RequestId, context.Principal, time, config);
        context.Trace.RequestedModel = request.Model;
        foreach (var (key, value) in request.Metadata)
        {
            context.Trace.Metadata[key] = value;
        }

        if (request.Prompt is { Id.Length: > 0 } reference)
        {
            var start = System.Diagnostics.Stopwatch.GetTimestamp();
            var resolved = await prompts.ResolveAsync(new ResolveRequest
            {
                Reference = reference,
                Subject = request.User.Length > 0 ? request.User : context.Principal.KeyName,
                User = request.User.Length > 0 ? request.User : context.Principal.User,
                Session = request.Metadata.TryGetValue("session_id", out var session) ? session : "",
                KeyName = context.Principal.KeyName,
            }, cancellationToken);
            request = ApplyPrompt(request, resolved);
            context.Trace.PromptName = resolved.Name;
            context.Trace.PromptVersion = resolved.Version;
            context.Trace.PromptLabel = resolved.Label;
            context.Trace.Experiment = resolved.Experiment;
            context.Trace.ExperimentArm = resolved.Arm;
            context.Trace.Latencies.PromptMs = RequestContext.Since(start);
        }
        if (request.Model.Length == 0)
        {
            throw GatewayException.BadRequest(request.Prompt is { Id.Length: > 0 }
                ? $"'model' is required: the request names none and prompt '{request.Prompt.Id}' (version {context.Trace.PromptVersion}) sets none."
                : "'model' must not be empty.", "model");
        }
        if (request.Messages.Count == 0)
        {
            throw GatewayException.BadRequest("'messages' must contain at least one message.", "messages", "empty_array");
        }
        EnsureModel(context, request.Model);

        return await GuardInputAsync(context, request, RequestCapture.Request, cancellationToken);
    }

    // Guard the input: block, rewrite (redact / pseudonymise, keeping the placeholder table to restore the
    // response), or pin the request to self-hosted providers. Errors name entity types, never values.
    private async Task<ChatRequest> GuardInputAsync(RequestContext context, ChatRequest request, Action<RequestContext, ChatRequest, Verdict> capture, CancellationToken cancellationToken)
    {
        var guardStart = System.Diagnostics.Stopwatch.GetTimestamp();
        var verdict = await GuardCallAsync(context, () => guard.CheckInputAsync(new CheckInputRequest { Principal = context.Principal, Request = request }, cancellationToken));
        context.Trace.Latencies.GuardInMs = RequestContext.Since(guardStart);
        context.Trace.GuardAction = verdict.Action.ToString();
        context.AddFindings(verdict);
        capture(context, request, verdict);
        if (verdict.Action == Contracts.Guard.V1.Action.Block)
        {
            throw GuardRefusal.Blocked(verdict, "request");
        }
        if (verdict.Action == Contracts.Guard.V1.Action.RouteSelfHosted)
        {
            context.Residency = [.. verdict.Residency];
            if (planner.Plan(context.Config, request.Model, context.Residency).Count == 0)
            {
                throw GuardRefusal.NoResidentTarget(verdict, request.Model);
            }
        }
        context.ScanOutput = verdict.ScanOutput;
        if (verdict.Pseudonyms.Count > 0)
        {
            context.Pseudonyms = new Dictionary<string, string>(verdict.Pseudonyms, StringComparer.Ordinal);
        }
        return verdict.RewrittenRequest ?? request;
    }

    // Embeddings input is guarded as user messages, one per input; rewritten inputs replace the originals.
    private async Task<EmbedRequest> GuardEmbeddingsAsync(RequestContext context, EmbedRequest request, CancellationToken cancellationToken)
    {
        var asChat = new ChatRequest { Model = request.Model, Api = Api.Embeddings, RequestId = context.RequestId };
        foreach (var input in request.Input)
        {
            asChat.Messages.Add(new Message { Role = Role.User, Content = { new ContentPart { Text = input } } });
        }
        var guarded = await GuardInputAsync(context, asChat, (c, _, verdict) => RequestCapture.Embeddings(c, request, verdict, WithGuardedInput), cancellationToken);
        return ReferenceEquals(guarded, asChat) ? request : WithGuardedInput(request, guarded);
    }

    private static EmbedRequest WithGuardedInput(EmbedRequest request, ChatRequest guarded)
    {
        var rewritten = request.Clone();
        rewritten.Input.Clear();
        rewritten.Input.AddRange(guarded.Messages.Select(m => m.Content[0].Text));
        return rewritten;
    }

    // Fail closed (guard.fail_closed, the default): if the guard cannot give a verdict, nothing is sent.
    private async Task<Verdict> GuardCallAsync(RequestContext context, Func<Task<Verdict>> call)
    {
        try
        {
            return await call();
        }
        // The guard ran and refused because its moderation endpoint failed (on_error: fail_closed): that is a
        // verdict, not a guard outage, so guard.fail_closed does not apply.
        catch (Exception e) when (e is not OperationCanceledException && e is not GatewayException { Code: Gateway.Guard.GuardEngine.ModerationUnavailable })
        {
            var failClosed = context.Config.Guard.FailClosed;
            RouterLog.GuardFailed(logger, e, context.RequestId, failClosed);
            if (failClosed)
            {
                throw new GatewayException(ErrorKind.Unavailable, "The guard could not inspect this request, so nothing was sent to a model; try again shortly.", code: "guard_unavailable");
            }
            context.Trace.GuardPolicy = "unavailable";
            return new Verdict { Action = Contracts.Guard.V1.Action.Allow, Policy = "unavailable", Note = "the guard failed and guard.fail_closed is false: sent without inspection" };
        }
    }

    private static ChatRequest ApplyPrompt(ChatRequest request, ResolvedPrompt prompt)
    {
        var rendered = request.Clone();
        rendered.Messages.Clear();
        rendered.Messages.AddRange(prompt.Messages);
        rendered.Messages.AddRange(request.Messages);
        if (rendered.Model.Length == 0 && prompt.Model.Length > 0)
        {
            rendered.Model = prompt.Model;
        }
        if (!rendered.HasTemperature && prompt.HasTemperature)
        {
            rendered.Temperature = prompt.Temperature;
        }
        if (!rendered.HasMaxTokens && prompt.HasMaxTokens)
        {
            rendered.MaxTokens = prompt.MaxTokens;
        }
        if (rendered.ResponseFormat is null && prompt.ResponseFormat is not null)
        {
            rendered.ResponseFormat = prompt.ResponseFormat;
        }
        if (rendered.Tools.Count == 0)
        {
            rendered.Tools.AddRange(prompt.Tools);
        }
        return rendered;
    }

    private async ValueTask<Principal> AuthenticateAsync(RequestContext context, string? apiKey, CancellationToken cancellationToken)
    {
        var start = System.Diagnostics.Stopwatch.GetTimestamp();
        var principal = await credentials.AuthenticateAsync(apiKey, cancellationToken);
        context.Trace.Principal = principal;
        context.Trace.Capture = context.Config.Traces.Capture.For(principal.KeyName, principal.Team);
        context.Trace.Latencies.AuthMs = RequestContext.Since(start);
        return principal;
    }

    // After authentication: the principal is known.
    private static void EnsureModel(RequestContext context, string model)
    {
        var principal = context.Principal!;
        if (!context.Config.Models.ContainsKey(model))
        {
            throw new GatewayException(ErrorKind.NotFound, $"The model '{model}' does not exist or you do not have access to it.", "model");
        }
        if (principal.AllowedModels.Count > 0 && !principal.AllowedModels.Contains(model))
        {
            throw new GatewayException(ErrorKind.PermissionDenied, $"Key '{principal.KeyName}' may not use model '{model}'.", "model");
        }
    }

    // Budget and rate-limit admission for the request's most possible cost; a refusal is a typed 429.
    // Counting a prompt's tokens costs tens of microseconds per kilobyte; only a budget or a token rate limit
    // that covers this caller needs the maximum cost, so everyone else is admitted without the count.
    private static bool NeedsMaxCost(GatewayConfig current, Principal? principal)
    {
        if (principal is null)
        {
            return true;
        }
        foreach (var budget in current.Budgets)
        {
            if (budget.Scope.Covers(principal))
            {
                return true;
            }
        }
        foreach (var limit in current.RateLimits)
        {
            if (limit.TokensPerMinute is not null && limit.Scope.Covers(principal))
            {
                return true;
            }
        }
        return false;
    }

    private async Task<Reservation> AdmitAsync(RequestContext context, string model, double maxCost, long maxTokens, CancellationToken cancellationToken)
    {
        var start = System.Diagnostics.Stopwatch.GetTimestamp();
        var reservation = await budget.ReserveAsync(new ReserveRequest
        {
            Principal = context.Principal,
            Model = model,
            RequestId = context.RequestId,
            MaxCostUsd = maxCost,
            MaxTokens = maxTokens,
        }, cancellationToken);
        context.Trace.Latencies.BudgetMs = RequestContext.Since(start);
        context.Budget = reservation;
        if (reservation.Decisions.Count > 0)
        {
            context.Trace.Metadata["gateway.budget"] = string.Join("; ", reservation.Decisions);
        }
        if (!reservation.Admitted)
        {
            var kind = reservation.Reason == "rate_limit_exceeded" ? ErrorKind.RateLimited : ErrorKind.BudgetExceeded;
            throw new GatewayException(kind, reservation.Message, code: reservation.Reason)
            {
                RetryAfterSeconds = reservation.RetryAfterSeconds > 0 ? reservation.RetryAfterSeconds : null,
                Headers = BudgetHeaders.ForRefusal(reservation),
            };
        }
        return reservation;
    }

    private async Task<Reservation> ReserveAsync(RequestContext context, ChatRequest request, CancellationToken cancellationToken)
    {
        var current = context.Config;
        current.Models.TryGetValue(request.Model, out var model);
        var (maxCost, maxTokens) = NeedsMaxCost(current, context.Principal)
            ? CostCalculator.MaxCost(PriceTable.For(request.Model, model), request, model?.Targets.FirstOrDefault()?.Model ?? request.Model, current.BudgetSettings.DefaultMaxTokens)
            : (0, 0);
        var reservation = await AdmitAsync(context, request.Model, maxCost, maxTokens, cancellationToken);
        if (reservation.DowngradeTo.Length > 0 && current.Models.ContainsKey(reservation.DowngradeTo))
        {
            context.Trace.Metadata["gateway.downgrade"] = $"{request.Model} -> {reservation.DowngradeTo}: {reservation.DowngradeReason}";
            request.Model = reservation.DowngradeTo;
        }
        return reservation;
    }

    // The policy that routes this request decides the order, retries, hedging and which failures fail over
    // (Routing/FailoverRunner); each try is recorded as an attempt in the trace.
    private Task<(ChatResponse, ProviderTarget)> CallWithFailoverAsync(RequestContext context, ChatRequest request, CancellationToken cancellationToken)
        => failover.ChatAsync(context, request, cancellationToken);

    // Failover is possible only until the first chunk: nothing has reached the client yet.
    private Task<(IAsyncEnumerator<ChatChunk>, ChatChunk, ProviderTarget)> OpenStreamWithFailoverAsync(RequestContext context, ChatRequest request, CancellationToken cancellationToken)
        => failover.OpenStreamAsync(context, request, cancellationToken);

    private async Task<ChatResponse> GuardOutputAsync(RequestContext context, ChatResponse response, CancellationToken cancellationToken)
    {
        if (!context.ScanOutput)
        {
            return response;
        }
        var start = System.Diagnostics.Stopwatch.GetTimestamp();
        var verdict = await GuardCallAsync(context, () => guard.CheckOutputAsync(new CheckOutputRequest { Principal = context.Principal, Response = response, RequestId = context.RequestId, Model = context.Trace.RequestedModel }, cancellationToken));
        context.Trace.Latencies.GuardOutMs = RequestContext.Since(start);
        context.AddFindings(verdict);
        if (verdict.Action == Contracts.Guard.V1.Action.Block)
        {
            throw GuardRefusal.Blocked(verdict, "response");
        }
        return verdict.RewrittenResponse ?? response;
    }

    // Output scanning of a stream: each released segment of text, and each tool call's complete arguments, goes
    // through the guard like a response.
    private async Task<string> ScanStreamAsync(RequestContext context, string text, StreamScan kind, CancellationToken cancellationToken)
    {
        var message = new Message { Role = Role.Assistant };
        switch (kind)
        {
            case StreamScan.ToolArguments:
                message.ToolCalls.Add(new ToolCall { Arguments = text });
                break;
            case StreamScan.Reasoning:
                // Unsigned here, so the guard answers with the rewritten text; StreamGuard decides for signed blocks.
                message.Reasoning.Add(new ReasoningBlock { Text = text });
                break;
            default:
                message.Content.Add(new ContentPart { Text = text });
                break;
        }
        var response = new ChatResponse();
        response.Choices.Add(new Choice { Message = message });
        var start = System.Diagnostics.Stopwatch.GetTimestamp();
        var verdict = await GuardCallAsync(context, () => guard.CheckOutputAsync(new CheckOutputRequest { Principal = context.Principal, Response = response, RequestId = context.RequestId, Model = context.Trace.RequestedModel }, cancellationToken));
        context.Trace.Latencies.GuardOutMs += RequestContext.Since(start);
        context.AddFindings(verdict);
        if (verdict.Action == Contracts.Guard.V1.Action.Block)
        {
            throw GuardRefusal.Blocked(verdict, "response");
        }
        if (verdict.RewrittenResponse?.Choices[0].Message is not { } rewritten)
        {
            return text;
        }
        return kind switch
        {
            StreamScan.ToolArguments => rewritten.ToolCalls[0].Arguments,
            StreamScan.Reasoning => rewritten.Reasoning[0].Text,
            _ => rewritten.Content[0].Text,
        };
    }

    private async Task SettleAsync(RequestContext context, Reservation reservation, Usage? usage, CancellationToken cancellationToken)
    {
        if (reservation.ReservationId.Length == 0)
        {
            return;
        }
        var settled = await budget.SettleAsync(new SettleRequest { ReservationId = reservation.ReservationId, ActualCostUsd = context.Trace.CostUsd, Usage = usage ?? new Usage() }, cancellationToken);
        if (settled.Alerts.Count > 0)
        {
            context.Trace.Metadata["gateway.budget_alerts"] = string.Join(", ", settled.Alerts);
        }
    }

    private async Task ReleaseAsync(Reservation? reservation)
    {
        if (reservation is { ReservationId.Length: > 0 })
        {
            // Not tied to the request's token: a cancelled request must still free its hold.
            await budget.ReleaseAsync(new ReleaseRequest { ReservationId = reservation.ReservationId }, CancellationToken.None);
        }
    }

    private static void RecordAttempt(RequestContext context, ProviderTarget target, int status, string errorClass, long start)
        => context.Trace.Attempts.Add(new Contracts.Traces.V1.Attempt
        {
            Provider = target.ProviderName,
            Model = target.PublicModel,
            UpstreamModel = target.UpstreamModel,
            HttpStatus = status,
            ErrorClass = errorClass,
            LatencyMs = RequestContext.Since(start),
        });

    private void Complete(RequestContext context, ProviderTarget target, Usage? usage)
    {
        context.ProviderFinished();
        context.Trace.Provider = target.ProviderName;
        context.Trace.ServedModel = target.PublicModel;
        context.Trace.UpstreamModel = target.UpstreamModel;
        context.Trace.Usage = usage ?? new Usage();
        context.Config.Models.TryGetValue(target.PublicModel, out var model);
        context.Trace.CostUsd = CostCalculator.Cost(PriceTable.For(target.PublicModel, model), usage);
    }

    private static ServedBy Served(RequestContext context, ProviderTarget target)
    {
        var served = new ServedBy
        {
            RequestId = context.RequestId,
            Provider = target.ProviderName,
            Model = target.PublicModel,
            UpstreamModel = target.UpstreamModel,
            Attempts = context.Trace.Attempts.Count,
            PromptName = context.Trace.PromptName,
            PromptVersion = context.Trace.PromptVersion,
            PromptLabel = context.Trace.PromptLabel,
            Experiment = context.Trace.Experiment,
            ExperimentArm = context.Trace.ExperimentArm,
        };
        BudgetHeaders.Apply(served, context.Budget);
        return served;
    }

    private Exception Fail(RequestContext context, Exception exception)
    {
        if (exception is OperationCanceledException)
        {
            context.Trace.Status = "cancelled";
            context.Trace.ErrorClass = "cancelled";
            context.Trace.HttpStatus = 499;
            return exception;
        }
        var error = exception as GatewayException ?? StoreFailures.AsUnavailable(exception);
        if (error is null)
        {
            RouterLog.RequestCrashed(logger, exception, context.RequestId);
            error = new GatewayException(ErrorKind.Internal, "Internal error.");
        }
        context.Trace.Status = "error";
        context.Trace.ErrorClass = error.Code;
        context.Trace.HttpStatus = ErrorMapping.HttpStatus(error.Kind);
        return error;
    }

    private async Task PublishAsync(RequestContext context)
    {
        context.Finish();
        var trace = context.Trace;
        RequestSpans.Finish(telemetry, context);
        var tags = MetricTags(trace.ServedModel, trace.Provider, trace.Status, trace.Principal?.Team ?? "");
        telemetry.Requests.Add(1, tags);
        telemetry.Duration.Record(trace.Latencies.TotalMs, tags);
        telemetry.Overhead.Record(trace.Latencies.OverheadMs, tags);
        telemetry.Cost.Add(trace.CostUsd, tags);
        if (trace.Usage is { } usage)
        {
            telemetry.Tokens.Add(usage.InputTokens, new KeyValuePair<string, object?>("gen_ai.token.type", "input"), new KeyValuePair<string, object?>("gen_ai.request.model", trace.ServedModel));
            telemetry.Tokens.Add(usage.OutputTokens, new KeyValuePair<string, object?>("gen_ai.token.type", "output"), new KeyValuePair<string, object?>("gen_ai.request.model", trace.ServedModel));
        }
        RouterLog.RequestCompleted(logger, trace.RequestId, trace.Api, trace.RequestedModel, trace.Status, trace.Latencies.TotalMs, trace.Provider);
        try
        {
            await events.PublishAsync(Topics.Traces, trace, CancellationToken.None);
        }
        catch (Exception e)
        {
            RouterLog.TracePublishFailed(logger, e, trace.RequestId);
        }
    }

    private static string ApiName(Api api) => api switch
    {
        Api.Messages => "messages",
        Api.Grpc => "grpc",
        Api.Embeddings => "embeddings",
        Api.Responses => "responses",
        _ => "chat",
    };

    // The tags of every request metric, built once per request.
    private static KeyValuePair<string, object?>[] MetricTags(string model, string provider, string status, string team) =>
    [
        new("gen_ai.request.model", model),
        new("gen_ai.provider.name", provider),
        new("status", status),
        new("team", team),
    ];
}
