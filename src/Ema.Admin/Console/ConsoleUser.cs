using System.Globalization;
using System.Security.Claims;

namespace Ema.Admin.Console;

/// <summary>The signed-in console user, read from the console cookie's principal.</summary>
public sealed record ConsoleUser(string Id, string Username, string Name, IReadOnlyList<string> Roles, DateTimeOffset AuthTime, IReadOnlyList<string> Amr, string? SessionId)
{
    /// <summary>Whether the sign-in used a second factor.</summary>
    public bool UsedMfa => Amr.Contains(ConsoleNames.MfaMethod, StringComparer.Ordinal);

    /// <summary>
    /// The step-up rule for changes, in the console and the admin API alike: a sign-in with a second factor no older than
    /// <paramref name="maxAge"/> (<see cref="AdminConsoleOptions.ChangeMaxAuthAge"/>).
    /// </summary>
    public bool MayChange(DateTimeOffset now, TimeSpan maxAge) => UsedMfa && now - AuthTime <= maxAge;

    public static ConsoleUser? From(ClaimsPrincipal? principal)
    {
        if (principal?.Identity?.IsAuthenticated != true || principal.FindFirst(ConsoleNames.Claims.Subject)?.Value is not { } id)
        {
            return null;
        }

        var authTime = long.TryParse(principal.FindFirst(ConsoleNames.Claims.AuthTime)?.Value, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) ? DateTimeOffset.FromUnixTimeSeconds(seconds) : DateTimeOffset.MinValue;
        return new(
            id,
            principal.FindFirst(ConsoleNames.Claims.Username)?.Value ?? id,
            principal.FindFirst(ConsoleNames.Claims.Name)?.Value ?? id,
            [.. principal.FindAll(ConsoleNames.Claims.Role).Select(c => c.Value)],
            authTime,
            [.. principal.FindAll(ConsoleNames.Claims.Amr).Select(c => c.Value)],
            principal.FindFirst(ConsoleNames.Claims.SessionId)?.Value);
    }

    public ClaimsPrincipal ToPrincipal()
    {
        var claims = new List<Claim>
        {
            new(ConsoleNames.Claims.Subject, Id),
            new(ConsoleNames.Claims.Username, Username),
            new(ConsoleNames.Claims.Name, Name),
            new(ConsoleNames.Claims.AuthTime, AuthTime.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture)),
        };
        claims.AddRange(Roles.Select(r => new Claim(ConsoleNames.Claims.Role, r)));
        claims.AddRange(Amr.Select(a => new Claim(ConsoleNames.Claims.Amr, a)));
        if (SessionId is not null)
        {
            claims.Add(new(ConsoleNames.Claims.SessionId, SessionId));
        }

        return new ClaimsPrincipal(new ClaimsIdentity(claims, ConsoleNames.Scheme, ConsoleNames.Claims.Username, ConsoleNames.Claims.Role));
    }
}
