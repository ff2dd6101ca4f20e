namespace Ema.Client;

/// <summary>
/// What <see cref="EmaClient.SignOutAsync"/> did: whether a session was stored on this machine (and is now deleted),
/// whether its refresh token was revoked at the IdP, and if not, why (<see cref="NotRevokedBecause"/>).
/// </summary>
public sealed record EmaSignOutResult(bool Forgotten, bool RevokedAtIdentityProvider, string? NotRevokedBecause);
