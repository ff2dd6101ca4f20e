using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Ema.Tokens.AccessTokens;

namespace Ema.Server.AspNetCore.ProtectedResource;

/// <summary>
/// Access tokens that passed validation, keyed by the SHA-256 of the whole token and kept until the token expires, so an
/// MCP session's repeated calls cost a hash and a lookup instead of a signature verification.
/// </summary>
internal sealed class ValidatedTokenCache(TimeProvider time, int capacity, TimeSpan clockSkew)
{
    private readonly ConcurrentDictionary<string, ValidatedAccessToken> _entries = new(StringComparer.Ordinal);

    public static string Key(string token) => Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(token)));

    public bool TryGet(string key, out ValidatedAccessToken? token)
    {
        if (_entries.TryGetValue(key, out token))
        {
            if (time.GetUtcNow() < token.ExpiresAt + clockSkew)
            {
                return true;
            }

            _entries.TryRemove(key, out _);
        }

        token = null;
        return false;
    }

    public void Add(string key, ValidatedAccessToken token)
    {
        if (capacity <= 0)
        {
            return;
        }

        if (_entries.Count >= capacity)
        {
            var now = time.GetUtcNow();
            foreach (var (k, v) in _entries)
            {
                if (now >= v.ExpiresAt)
                {
                    _entries.TryRemove(k, out _);
                }
            }

            if (_entries.Count >= capacity)
            {
                _entries.Clear();
            }
        }

        _entries[key] = token;
    }
}
