using Ema.Protocol;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Ema.Server.AspNetCore.Endpoints;

/// <summary>
/// Health endpoints for load balancers and orchestrators: <c>/healthz</c> (liveness — the process answers) and
/// <c>/readyz</c> (readiness — the checks tagged <see cref="EmaEndpoints.ReadinessTag"/>, such as storage; 503 when an
/// instance should take no traffic). Anonymous, never cached, and only a status word in the body: no details for
/// callers who need none.
/// </summary>
public static class HealthEndpoints
{
    public static IEndpointRouteBuilder MapEmaHealthChecks(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapHealthChecks(EmaEndpoints.LivenessPath, new HealthCheckOptions { Predicate = _ => false }).AllowAnonymous();
        endpoints.MapHealthChecks(EmaEndpoints.ReadinessPath, new HealthCheckOptions
        {
            Predicate = check => check.Tags.Contains(EmaEndpoints.ReadinessTag),
            ResultStatusCodes =
            {
                [HealthStatus.Healthy] = StatusCodes.Status200OK,
                [HealthStatus.Degraded] = StatusCodes.Status200OK,
                [HealthStatus.Unhealthy] = StatusCodes.Status503ServiceUnavailable,
            },
        }).AllowAnonymous();
        return endpoints;
    }
}
