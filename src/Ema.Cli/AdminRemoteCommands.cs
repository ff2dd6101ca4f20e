using System.CommandLine;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ema.Admin.Console;
using Ema.Client;
using Ema.Client.Session;
using Ema.Client.SignIn;
using Ema.Protocol;
using Ema.Server.IdentityProvider;

namespace Ema.Cli;

/// <summary>
/// <c>ema admin login|logout|api</c>: administration of a running IdP from anywhere, through its JSON admin API (the one
/// the console uses), instead of the data folder. The admin signs in through the browser as the public client
/// <see cref="ConsoleNames.CliClientId"/> with a second factor (<c>acr_values</c>, <c>max_age=0</c>); the session (its
/// access token) is stored encrypted in <c>&lt;profile&gt;/admin</c>. The API's rules apply unchanged: admin role, MFA, a
/// sign-in at most <c>Ema:Admin:ChangeMaxAuthAge</c> old for changes, one audit record per change naming the admin.
/// </summary>
internal static class AdminRemoteCommands
{
    private const string SettingsFile = "admin.json";
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };
    internal static readonly JsonSerializerOptions Web = new(JsonSerializerDefaults.Web);

    public static IEnumerable<Command> Create() => [Login(), Logout(), Api()];

    private static string Folder(ParseResult parse) => Path.Combine(ClientCommands.ProfileDirectory(parse), "admin");

    private static Command Login()
    {
        var server = new Option<string>("--server") { Required = true, Description = "The IdP's issuer URL (for example https://idp.example.com/idp)." };
        var ca = new Option<string?>("--ca") { Description = "A CA certificate to trust besides the system roots (e.g. a local Ema's tls/ca.crt)." };
        var command = new Command("login", "Sign in to a running IdP's admin API (browser sign-in with your second factor).") { server, ca };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var folder = Folder(parse);
            var issuer = parse.GetValue(server)!.TrimEnd('/');
            var caFile = parse.GetValue(ca) is { Length: > 0 } path ? Path.GetFullPath(path) : null;
            if (!Uri.TryCreate(issuer, UriKind.Absolute, out var parsed) || (parsed.Scheme != Uri.UriSchemeHttps && !parsed.IsLoopback))
            {
                return ClientCommands.Fail($"'{issuer}' is not an https URL.", ExitCodes.Usage);
            }

            if (caFile is not null && !File.Exists(caFile))
            {
                return ClientCommands.Fail($"No CA certificate at {caFile}.", ExitCodes.Usage);
            }

            Directory.CreateDirectory(folder);
            var store = new EnterpriseSessionStore(folder);
            store.Delete(); // a session of another IdP is never presented to this one
            using var client = new EmaClient(Options(issuer), Handler(caFile), store, new SystemBrowser(Console.Error));
            try
            {
                // A fresh sign-in with the second factor: the API takes nothing less for changes.
                var session = await client.SignInAsync(new StepUpRequest(0, AuthenticationContextClasses.MultiFactor), cancellationToken);
                PrivateFile.WriteAllText(Path.Combine(folder, SettingsFile), new JsonObject { ["server"] = issuer, ["ca"] = caFile }.ToJsonString());
                Console.Out.WriteLine(TerminalText.Safe($"Signed in to the admin API of {issuer} as {session.Username ?? session.Subject}; changes are accepted for the next minutes (Ema:Admin:ChangeMaxAuthAge), then run ema admin login again."));
                return ExitCodes.Ok;
            }
            catch (Exception ex) when (ClientCommands.IsExpected(ex))
            {
                return ClientCommands.Fail(ex.Message, ex is EmaSignInRequiredException ? ExitCodes.SignInRequired : ExitCodes.Unavailable);
            }
        });
        return command;
    }

    private static Command Logout()
    {
        var command = new Command("logout", "Sign out of the admin API: end this sign-in's IdP session, then forget it on this machine.");
        command.SetAction(async (parse, cancellationToken) =>
        {
            var folder = Folder(parse);
            var store = new EnterpriseSessionStore(folder);
            var (_, session) = store.Load();
            var ended = false;
            var live = session?.AccessToken is not null && session.AccessTokenExpiresAt > TimeProvider.System.GetUtcNow() && ReadSettings(folder) is not null;
            if (live)
            {
                // Best effort: an unreachable IdP or a refused call is explained on stderr, and the local sign-in goes anyway.
                ended = await CallAsync(parse, "POST", "/signout", null, _ => { }, cancellationToken) == ExitCodes.Ok;
            }

            var removed = store.Delete();
            File.Delete(Path.Combine(folder, SettingsFile));
            Console.Out.WriteLine(!removed ? "Not signed in to the admin API."
                : ended ? "Signed out of the admin API: the IdP session is revoked and the sign-in forgotten on this machine."
                : live ? "Signed out of the admin API on this machine; the IdP session was not ended (see above): revoke it in the console under Sessions."
                : "Signed out of the admin API on this machine; its token had expired, so the IdP could not be asked to end the session: revoke it in the console under Sessions.");
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Api()
    {
        var method = new Argument<string>("method") { Description = "GET, POST, PUT or DELETE." };
        var path = new Argument<string>("path") { Description = "Path under /admin/api/v1, for example /users or /groups/grp-research/members." };
        var body = new Option<string?>("--body") { Description = "JSON request body, or @file to read it from a file (@- for standard input)." };
        var command = new Command("api", "Call the admin API of the IdP you signed in to with ema admin login (its OpenAPI document: /admin/api/openapi/v1.json).") { method, path, body };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var verb = parse.GetValue(method)!.ToUpperInvariant();
            if (verb is not ("GET" or "POST" or "PUT" or "DELETE"))
            {
                return ClientCommands.Fail($"'{verb}' is not GET, POST, PUT or DELETE.", ExitCodes.Usage);
            }

            var relative = parse.GetValue(path)!;
            if (!relative.StartsWith('/') || relative.Contains('#', StringComparison.Ordinal))
            {
                return ClientCommands.Fail($"'{relative}' is not a path under /admin/api/v1 (it starts with /).", ExitCodes.Usage);
            }

            string? content;
            try
            {
                content = ReadBody(parse.GetValue(body));
                if (content is not null)
                {
                    using var _ = JsonDocument.Parse(content);
                }
            }
            catch (Exception ex) when (ex is JsonException or IOException or UnauthorizedAccessException)
            {
                return ClientCommands.Fail($"The body is not readable JSON: {ex.Message}", ExitCodes.Usage);
            }

            return await CallAsync(parse, verb, relative, content, PrintJson, cancellationToken);
        });
        return command;
    }

    /// <summary>
    /// One call of the admin API with the stored sign-in: the token goes to that IdP's <c>/admin/api/v1</c> only (the URL
    /// is checked after parsing, so neither another host nor an encoded dot segment can take it elsewhere); a success is
    /// handed to <paramref name="print"/>, a refusal explained in one line with its exit code.
    /// </summary>
    internal static async Task<int> CallAsync(ParseResult parse, string verb, string relative, string? content, Action<JsonElement> print, CancellationToken cancellationToken, TimeSpan? timeout = null)
    {
        var folder = Folder(parse);
        var settings = ReadSettings(folder);
        var (status, session) = new EnterpriseSessionStore(folder).Load();
        if (settings is null || session?.AccessToken is not { } token || session.AccessTokenExpiresAt <= TimeProvider.System.GetUtcNow())
        {
            return ClientCommands.Fail(status == SessionLoadStatus.Unreadable
                ? "The stored admin sign-in cannot be read on this machine: run ema admin login --server <issuer>."
                : "Not signed in to an admin API (or the sign-in expired): run ema admin login --server <issuer>.", ExitCodes.SignInRequired);
        }

        if (!string.Equals(session.Issuer, settings.Value.Server, StringComparison.Ordinal))
        {
            return ClientCommands.Fail("The stored admin sign-in is for another IdP: run ema admin login --server <issuer>.", ExitCodes.SignInRequired);
        }

        var origin = new Uri(settings.Value.Server).GetLeftPart(UriPartial.Authority);
        if (!Uri.TryCreate(origin + "/admin/api/v1" + relative, UriKind.Absolute, out var target)
            || target.GetLeftPart(UriPartial.Authority) != origin || !target.AbsolutePath.StartsWith("/admin/api/v1/", StringComparison.Ordinal))
        {
            return ClientCommands.Fail($"'{relative}' is not a path under /admin/api/v1.", ExitCodes.Usage);
        }

        using var http = OutboundHttp.CreateForAdminApi(settings.Value.Ca, timeout);
        using var request = new HttpRequestMessage(new HttpMethod(verb), target);
        request.Headers.Authorization = new AuthenticationHeaderValue(HeaderValues.BearerScheme, token);
        if (content is not null)
        {
            request.Content = new StringContent(content, Encoding.UTF8, MediaTypes.Json);
        }

        try
        {
            using var response = await http.SendAsync(request, cancellationToken);
            var text = await response.Content.ReadAsStringAsync(cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                return Explain(response.StatusCode, text);
            }

            JsonDocument document;
            try
            {
                document = JsonDocument.Parse(text.Length == 0 ? "null" : text);
            }
            catch (JsonException)
            {
                Console.Out.WriteLine(text); // a success that is not JSON: shown as it came
                return ExitCodes.Ok;
            }

            using (document)
            {
                print(document.RootElement);
            }

            return ExitCodes.Ok;
        }
        catch (HttpRequestException ex)
        {
            return ClientCommands.Fail($"The admin API at {origin} is unreachable: {ex.Message}", ExitCodes.Unavailable);
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return ClientCommands.Fail($"The admin API at {origin} did not answer within {http.Timeout.TotalMinutes:0.#} minute(s).", ExitCodes.Unavailable);
        }
    }

    /// <summary>A named <c>ema admin</c> change with <c>--remote</c>: the API's change, printed as the local one is.</summary>
    internal static Task<int> ChangeAsync(ParseResult parse, string verb, string relative, object? body, CancellationToken cancellationToken) =>
        CallAsync(parse, verb, relative, body is null ? null : JsonSerializer.Serialize(body, Web), PrintChange, cancellationToken);

    /// <summary>A named <c>ema admin</c> listing with <c>--remote</c>: the API's JSON.</summary>
    internal static Task<int> ListAsync(ParseResult parse, string relative, CancellationToken cancellationToken) =>
        CallAsync(parse, "GET", relative, null, PrintJson, cancellationToken);

    /// <summary>
    /// A named <c>ema admin</c> listing that the API answers page by page (<c>after</c> = the <paramref name="cursor"/> of
    /// the last item received): every page, printed as one JSON array once all have arrived. An answer that is not a
    /// page of such items, or a page that does not move on (a server that ignores <c>after</c>), ends the command with
    /// a one-line error and nothing printed — never a silently shortened list, never a loop.
    /// </summary>
    internal static async Task<int> ListAllAsync(ParseResult parse, string relative, string cursor, CancellationToken cancellationToken)
    {
        var all = new List<JsonElement>();
        string? after = null;
        while (true)
        {
            List<JsonElement>? page = null;
            var code = await CallAsync(parse, "GET", after is null ? relative : $"{relative}?after={Uri.EscapeDataString(after)}", null, json =>
            {
                if (json.ValueKind == JsonValueKind.Array)
                {
                    page = [.. json.EnumerateArray().Select(e => e.Clone())];
                }
            }, cancellationToken);
            if (code != ExitCodes.Ok)
            {
                return code;
            }

            if (page is null)
            {
                return ClientCommands.Fail($"The admin API answered {relative} with something other than a list.", ExitCodes.Unavailable);
            }

            if (page.Count == 0)
            {
                break;
            }

            if (LastCursor(page, cursor, after) is not { } last)
            {
                return ClientCommands.Fail($"The admin API did not page on through {relative} (after '{after}'): stopped, nothing printed.", ExitCodes.Unavailable);
            }

            all.AddRange(page);
            after = last;
        }

        PrintJson(JsonSerializer.SerializeToElement(all));
        return ExitCodes.Ok;
    }

    /// <summary>
    /// The cursor of the last item of <paramref name="page"/> when every item has one (a string) and they rise strictly
    /// (ordinal) from <paramref name="after"/> on; otherwise null: the page does not move on.
    /// </summary>
    internal static string? LastCursor(IReadOnlyList<JsonElement> page, string cursor, string? after)
    {
        var previous = after;
        foreach (var item in page)
        {
            var key = item.ValueKind == JsonValueKind.Object && item.TryGetProperty(cursor, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
            if (key is null || (previous is not null && Ema.Admin.Api.UserOrder.Compare(key, previous) <= 0))
            {
                return null;
            }

            previous = key;
        }

        return previous;
    }

    private static void PrintJson(JsonElement json) => Console.Out.WriteLine(JsonSerializer.Serialize(json, Indented));

    private static void PrintChange(JsonElement json)
    {
        if (json.ValueKind != JsonValueKind.Object)
        {
            PrintJson(json);
            return;
        }

        Console.Out.WriteLine(TerminalText.Safe(json.TryGetProperty("message", out var message) ? message.GetString() : json.ToString()));
        if (json.TryGetProperty("oneTimeSecret", out var secret) && secret.ValueKind == JsonValueKind.String)
        {
            Console.Out.WriteLine($"Secret (shown once, store it now): {secret.GetString()}");
        }

        if (json.TryGetProperty("warnings", out var warnings) && warnings.ValueKind == JsonValueKind.Array)
        {
            foreach (var warning in warnings.EnumerateArray())
            {
                Console.Error.WriteLine(TerminalText.Safe($"policy:{warning.GetProperty("line").GetInt32()}: warning: {warning.GetProperty("message").GetString()}"));
            }
        }
    }

    private static int Explain(HttpStatusCode status, string text)
    {
        string? title = null, detail = null;
        var errors = new List<string>();
        try
        {
            using var problem = JsonDocument.Parse(text);
            if (problem.RootElement.ValueKind == JsonValueKind.Object)
            {
                title = problem.RootElement.TryGetProperty("title", out var t) ? t.GetString() : null;
                detail = problem.RootElement.TryGetProperty("detail", out var d) ? d.GetString() : null;
                if (problem.RootElement.TryGetProperty("errors", out var list) && list.ValueKind == JsonValueKind.Array)
                {
                    errors.AddRange(list.EnumerateArray().Select(e => $"policy:{e.GetProperty("line").GetInt32()}: {e.GetProperty("message").GetString()}"));
                }
            }
        }
        catch (JsonException)
        {
            // not a problem document: the status says enough
        }

        foreach (var error in errors)
        {
            Console.Error.WriteLine(TerminalText.Safe(error));
        }

        return status switch
        {
            HttpStatusCode.Unauthorized => ClientCommands.Fail("The admin API refused the sign-in (expired, revoked or not an admin CLI sign-in): run ema admin login again.", ExitCodes.SignInRequired),
            HttpStatusCode.Forbidden when title == "step_up_required" => ClientCommands.Fail("Changes need a recent sign-in with your second factor: run ema admin login again, then retry.", ExitCodes.SignInRequired),
            HttpStatusCode.Forbidden => ClientCommands.Fail(detail ?? "Forbidden: the admin API needs the admin role and a sign-in with a second factor.", ExitCodes.Blocked),
            HttpStatusCode.NotFound when detail is not null => ClientCommands.Fail(detail, ExitCodes.Failed), // a path that exists, naming what it did not find
            HttpStatusCode.NotFound => ClientCommands.Fail("No such admin API path (see /admin/api/openapi/v1.json).", ExitCodes.Usage),
            _ => ClientCommands.Fail(detail ?? $"The admin API answered {(int)status}.", ExitCodes.Failed),
        };
    }

    private static string? ReadBody(string? body) => body switch
    {
        null => null,
        "@-" => Console.In.ReadToEnd(),
        _ when body.StartsWith('@') => File.ReadAllText(body[1..]),
        _ => body,
    };

    private static (string Server, string? Ca)? ReadSettings(string folder)
    {
        try
        {
            var node = JsonNode.Parse(File.ReadAllText(Path.Combine(folder, SettingsFile)));
            return node?["server"]?.GetValue<string>() is { } server ? (server, node["ca"]?.GetValue<string>()) : null;
        }
        catch (Exception ex) when (ex is IOException or JsonException or InvalidOperationException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static EmaClientOptions Options(string issuer) => new()
    {
        IdentityProvider = issuer,
        IdentityProviderClient = new ClientCredentials(ConsoleNames.CliClientId, null, ClientAuthenticationMethods.None),
        SignInScope = "openid profile",
        UseCatalog = false,
    };

    private static SocketsHttpHandler Handler(string? caFile)
    {
        var handler = OutboundHttp.Handler(caFile, null);
        handler.AllowAutoRedirect = false; // a redirected request would re-send the bearer token elsewhere
        return handler;
    }
}
