using System.Diagnostics;
using Gateway.Common.Configuration;
using Gateway.Common.Errors;
using Gateway.Contracts.Common.V1;
using Gateway.Contracts.Inference.V1;
using Gateway.Router.Pipeline;
using Gateway.Router.Providers;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.CircuitBreaker;
using Polly.Timeout;

namespace Gateway.Router.Routing;

// Walks a route plan: each deployment through its Polly pipeline, on to the next deployment or fallback model
// when the policy's triggers say so, optionally hedging non-streaming calls. Every try on a deployment is one
// attempt in the trace (deployment, status, latency, error class) and one sample in its health window.
public sealed class FailoverRunner(
    RoutePlanner planner,
    ResiliencePipelines pipelines,
    ProviderRegistry providers,
    TimeProvider time,
    ILogger<FailoverRunner> logger)
{
    private sealed record Running(RouteStep Step, Task<ChatResponse> Task, CancellationTokenSource Cancel);

    internal async Task<(ChatResponse, ProviderTarget)> ChatAsync(RequestContext context, ChatRequest request, CancellationToken cancellationToken)
    {
        var routingStart = Stopwatch.GetTimestamp();
        var plan = planner.PlanRoute(request.Model, context.Principal, stream: false, context.Residency, context.Config);
        context.Trace.Latencies.RoutingMs = RequestContext.Since(routingStart);
        var hedgeDelay = plan.Policy.Hedging is { } hedging ? TimeSpan.FromMilliseconds(hedging.DelayMs) : (TimeSpan?)null;
        var skip = new Skipper();
        var running = new List<Running>(2);
        var next = 0;
        var circuitsOpen = 0;
        GatewayException? last = null;
        try
        {
            while (true)
            {
                if (running.Count == 0)
                {
                    if (skip.Next(plan.Steps, ref next) is not { } step)
                    {
                        break;
                    }
                    running.Add(Launch(context, plan, step, request, cancellationToken));
                }
                Task? hedge = null;
                using var hedgeCancel = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                if (hedgeDelay is { } delay && running.Count == 1 && skip.HasNext(plan.Steps, next))
                {
                    hedge = Task.Delay(delay, time, hedgeCancel.Token);
                }
                var waiting = new List<Task>(3);
                waiting.AddRange(running.Select(r => (Task)r.Task));
                if (hedge is not null)
                {
                    waiting.Add(hedge);
                }
                var done = waiting.Count == 1 ? waiting[0] : await Task.WhenAny(waiting);
                if (hedge is not null && done == hedge)
                {
                    if (skip.Next(plan.Steps, ref next) is { } hedged)
                    {
                        running.Add(Launch(context, plan, hedged, request, cancellationToken));
                    }
                    continue;
                }
                await hedgeCancel.CancelAsync();
                var finished = running.First(r => r.Task == done);
                running.Remove(finished);
                try
                {
                    var response = await finished.Task;
                    return (response, finished.Step.Target);
                }
                catch (BrokenCircuitException)
                {
                    circuitsOpen++;
                    RouterLog.CircuitOpen(logger, context.RequestId, finished.Step.Target.ProviderName, finished.Step.Target.UpstreamModel);
                }
                catch (GatewayException e)
                {
                    var failure = Failures.Classify(e);
                    if (!Failures.Triggers(plan.Policy.Triggers, failure))
                    {
                        throw;
                    }
                    RouterLog.AttemptFailed(logger, context.RequestId, finished.Step.Target.ProviderName, finished.Step.Target.UpstreamModel, e.Code);
                    skip.After(failure, finished.Step);
                    last = e;
                }
                finally
                {
                    finished.Cancel.Dispose();
                }
            }
        }
        finally
        {
            // The hedge that lost (or the attempts still running when this one failed for good) is cancelled
            // and awaited, so nothing writes to the trace after it is published.
            foreach (var other in running)
            {
                await other.Cancel.CancelAsync();
                try
                {
                    await other.Task;
                }
                catch (Exception e) when (e is OperationCanceledException or GatewayException or BrokenCircuitException)
                {
                    // It lost; its attempt is already in the trace.
                }
                other.Cancel.Dispose();
            }
        }
        throw Exhausted(plan, request.Model, last, circuitsOpen);
    }

    private Running Launch(RequestContext context, RoutePlan plan, RouteStep step, ChatRequest request, CancellationToken requestToken)
    {
        var cancel = CancellationTokenSource.CreateLinkedTokenSource(requestToken);
        return new Running(step, AttemptChatAsync(context, plan, step, request, cancel.Token, requestToken), cancel);
    }

    private async Task<ChatResponse> AttemptChatAsync(RequestContext context, RoutePlan plan, RouteStep step, ChatRequest request, CancellationToken attemptToken, CancellationToken requestToken)
    {
        var pipeline = pipelines.Get(plan.PolicyName, plan.Policy, step.Health.Key).Pipeline;
        var resilience = ResilienceContextPool.Shared.Get(attemptToken);
        resilience.Properties.Set(ResiliencePipelines.Streaming, false);
        try
        {
            return await pipeline.ExecuteAsync(async rc =>
            {
                var start = Stopwatch.GetTimestamp();
                context.ProviderStarted();
                try
                {
                    var response = await providers.Chat(step.Target).ChatAsync(step.Target, request, rc.CancellationToken);
                    context.ProviderFirstByte();
                    context.ProviderFinished();
                    var latency = RequestContext.Since(start);
                    RecordAttempt(context, step.Target, 200, "", latency);
                    step.Health.Record(time.GetUtcNow(), failed: false, latency, costUsd: Cost(context, step.Target.PublicModel, response.Usage));
                    return response;
                }
                catch (GatewayException e)
                {
                    context.ProviderFinished();
                    Fault(context, plan, step, e, RequestContext.Since(start));
                    throw;
                }
                catch (OperationCanceledException) when (!requestToken.IsCancellationRequested)
                {
                    var latency = RequestContext.Since(start);
                    if (attemptToken.IsCancellationRequested)
                    {
                        // Another deployment answered first (hedging).
                        RecordAttempt(context, step.Target, 499, "hedge_cancelled", latency);
                    }
                    else
                    {
                        Fault(context, plan, step, TimedOut(plan, step), latency);
                    }
                    throw;
                }
            }, resilience);
        }
        catch (TimeoutRejectedException)
        {
            throw TimedOut(plan, step);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(resilience);
        }
    }

    private static GatewayException TimedOut(RoutePlan plan, RouteStep step)
        => new(ErrorKind.UpstreamTimeout, $"Provider '{step.Target.ProviderName}' did not answer within {plan.Policy.Triggers.TimeoutMs} ms.", code: Failures.TimeoutCode);

    internal async Task<(IAsyncEnumerator<ChatChunk>, ChatChunk, ProviderTarget)> OpenStreamAsync(RequestContext context, ChatRequest request, CancellationToken cancellationToken)
    {
        var routingStart = Stopwatch.GetTimestamp();
        var plan = planner.PlanRoute(request.Model, context.Principal, stream: true, context.Residency, context.Config);
        context.Trace.Latencies.RoutingMs = RequestContext.Since(routingStart);
        var skip = new Skipper();
        var next = 0;
        var circuitsOpen = 0;
        GatewayException? last = null;
        while (skip.Next(plan.Steps, ref next) is { } step)
        {
            try
            {
                var (stream, first) = await AttemptStreamAsync(context, plan, step, request, cancellationToken);
                return (stream, first, step.Target);
            }
            catch (BrokenCircuitException)
            {
                circuitsOpen++;
                RouterLog.CircuitOpen(logger, context.RequestId, step.Target.ProviderName, step.Target.UpstreamModel);
            }
            catch (GatewayException e)
            {
                var failure = Failures.Classify(e);
                if (!Failures.Triggers(plan.Policy.Triggers, failure))
                {
                    throw;
                }
                RouterLog.AttemptFailed(logger, context.RequestId, step.Target.ProviderName, step.Target.UpstreamModel, e.Code);
                skip.After(failure, step);
                last = e;
            }
        }
        throw Exhausted(plan, request.Model, last, circuitsOpen);
    }

    // Opens the stream and waits for its first chunk (within ttft_timeout_ms): until then failover is possible.
    private async Task<(IAsyncEnumerator<ChatChunk>, ChatChunk)> AttemptStreamAsync(RequestContext context, RoutePlan plan, RouteStep step, ChatRequest request, CancellationToken requestToken)
    {
        var pipeline = pipelines.Get(plan.PolicyName, plan.Policy, step.Health.Key).Pipeline;
        var resilience = ResilienceContextPool.Shared.Get(requestToken);
        resilience.Properties.Set(ResiliencePipelines.Streaming, true);
        var triggers = plan.Policy.Triggers;
        try
        {
            return await pipeline.ExecuteAsync(async rc =>
            {
                var start = Stopwatch.GetTimestamp();
                context.ProviderStarted();
                var timer = new StreamTimer(time, requestToken);
                var enumerator = providers.Chat(step.Target).StreamAsync(step.Target, request, timer.Token).GetAsyncEnumerator(timer.Token);
                try
                {
                    if (triggers.TtftTimeoutMs is { } ttft)
                    {
                        timer.Arm(TimeSpan.FromMilliseconds(ttft));
                    }
                    bool any;
                    try
                    {
                        any = await enumerator.MoveNextAsync();
                    }
                    catch (OperationCanceledException) when (timer.Fired)
                    {
                        throw new GatewayException(ErrorKind.UpstreamTimeout, $"Provider '{step.Target.ProviderName}' sent no first chunk within {triggers.TtftTimeoutMs} ms.", code: Failures.TtftTimeoutCode);
                    }
                    timer.Disarm();
                    if (!any)
                    {
                        throw new GatewayException(ErrorKind.UpstreamError, $"Provider '{step.Target.ProviderName}' sent an empty stream.");
                    }
                }
                catch (GatewayException e)
                {
                    await enumerator.DisposeAsync();
                    timer.Dispose();
                    Fault(context, plan, step, e, RequestContext.Since(start));
                    throw;
                }
                catch
                {
                    await enumerator.DisposeAsync();
                    timer.Dispose();
                    throw;
                }
                context.ProviderFirstByte();
                var ttftMs = RequestContext.Since(start);
                RecordAttempt(context, step.Target, 200, "", ttftMs);
                var first = enumerator.Current;
                var routed = new RoutedStream(enumerator, timer, triggers.IdleTimeoutMs is { } idle ? TimeSpan.FromMilliseconds(idle) : null, step.Target.ProviderName, first.Usage,
                    (failed, usage) => step.Health.Record(time.GetUtcNow(), failed, RequestContext.Since(start), ttftMs, failed ? 0 : Cost(context, step.Target.PublicModel, usage)));
                return ((IAsyncEnumerator<ChatChunk>)routed, first);
            }, resilience);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(resilience);
        }
    }

    // A failed try: into the trace, into the deployment's health when it is the deployment's fault, and a 429
    // cools the deployment down until its Retry-After has passed.
    private void Fault(RequestContext context, RoutePlan plan, RouteStep step, GatewayException error, double latencyMs)
    {
        var failure = Failures.Classify(error);
        RecordAttempt(context, step.Target, error.UpstreamStatus ?? ErrorMapping.HttpStatus(error.Kind), Failures.Name(failure), latencyMs);
        var now = time.GetUtcNow();
        if (Failures.IsDeploymentFault(failure))
        {
            step.Health.Record(now, failed: true, latencyMs);
        }
        if (failure == FailureClass.RateLimit)
        {
            step.Health.CoolDown(now + (error.RetryAfterSeconds is { } seconds
                ? TimeSpan.FromSeconds(seconds)
                : TimeSpan.FromMilliseconds(plan.Policy.Triggers.RateLimitCooldownMs)));
        }
    }

    private GatewayException Exhausted(RoutePlan plan, string model, GatewayException? last, int circuitsOpen)
    {
        if (last is not null)
        {
            return last;
        }
        if (plan.CoolingDownUntil is { } until)
        {
            var seconds = Math.Max(1, (int)Math.Ceiling((until - time.GetUtcNow()).TotalSeconds));
            return new GatewayException(ErrorKind.UpstreamRateLimited, $"Every deployment of '{model}' is rate limited; retry after {seconds} s.") { RetryAfterSeconds = seconds };
        }
        return new GatewayException(ErrorKind.Unavailable, circuitsOpen > 0
            ? $"No deployment of '{model}' is available: {circuitsOpen} circuit(s) open after repeated failures."
            : $"No deployment of '{model}' is available.");
    }

    private static double Cost(RequestContext context, string publicModel, Usage? usage)
    {
        context.Config.Models.TryGetValue(publicModel, out var model);
        return CostCalculator.Cost(model?.Price, usage);
    }

    // Hedged attempts finish on their own threads, so writes to the attempt list are serialised.
    private static void RecordAttempt(RequestContext context, ProviderTarget target, int status, string errorClass, double latencyMs)
    {
        var attempts = context.Trace.Attempts;
        lock (attempts)
        {
            attempts.Add(new Contracts.Traces.V1.Attempt
            {
                Provider = target.ProviderName,
                Model = target.PublicModel,
                UpstreamModel = target.UpstreamModel,
                HttpStatus = status,
                ErrorClass = errorClass,
                LatencyMs = latencyMs,
            });
        }
    }

    // Which steps are still worth trying after a failure: a context-length error skips the rest of that model
    // and every model whose window is no larger; a content-policy refusal skips the rest of that model.
    private sealed class Skipper
    {
        private readonly HashSet<string> _models = new(StringComparer.Ordinal);
        private int? _window;

        public void After(FailureClass failure, RouteStep step)
        {
            if (failure is FailureClass.ContextLength)
            {
                _models.Add(step.Target.PublicModel);
                if (step.ContextWindow is { } window)
                {
                    _window = Math.Max(_window ?? 0, window);
                }
            }
            else if (failure is FailureClass.ContentPolicy)
            {
                _models.Add(step.Target.PublicModel);
            }
        }

        private bool Skips(RouteStep step)
            => _models.Contains(step.Target.PublicModel) || (_window is { } window && step.ContextWindow is { } size && size <= window);

        public RouteStep? Next(List<RouteStep> steps, ref int next)
        {
            while (next < steps.Count)
            {
                var step = steps[next++];
                if (!Skips(step))
                {
                    return step;
                }
            }
            return null;
        }

        public bool HasNext(List<RouteStep> steps, int next)
        {
            for (var i = next; i < steps.Count; i++)
            {
                if (!Skips(steps[i]))
                {
                    return true;
                }
            }
            return false;
        }
    }
}
