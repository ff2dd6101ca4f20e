using System.Globalization;
using System.Text.RegularExpressions;
using Ema.Admin.Console;
using Ema.Server.Audit;
using Ema.Server.Security;

namespace Ema.Admin;

/// <summary>
/// What every admin change accepts and records, whichever role it changes (<see cref="AdminOperations"/>,
/// <see cref="AuthorizationServerOperations"/>): ids, free text shown to other admins, and the change's audit record.
/// </summary>
internal static partial class AdminInput
{
    public const int MaxText = 200;

    /// <summary>An id: letters and digits, then also '.', '_' and '-'; at most 64 characters.</summary>
    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    public static partial Regex IdPattern();

    /// <summary>
    /// Free text (names, descriptions): present when required, at most <see cref="MaxText"/> characters, and no control
    /// or format characters — no escape sequences, bidirectional overrides or zero-width look-alikes in what other admins read.
    /// </summary>
    public static bool IsText(string? value, bool required) =>
        string.IsNullOrWhiteSpace(value)
            ? !required
            : value.Length <= MaxText && !value.Any(c => char.IsControl(c) || char.GetUnicodeCategory(c) is UnicodeCategory.Format or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator);

    /// <summary>The audit record of one admin change, naming the admin (and the session the change came through).</summary>
    public static AuditEvent Record(TimeProvider time, ConsoleUser by, string action, string reason, string? target, string? sessionId = null, string? clientId = null)
    {
        var now = time.GetUtcNow();
        return new AuditEvent { Id = SecretHasher.NewOrderedId("evt_", now), Time = now, Type = AuditEventTypes.AdminChange, Action = action, Outcome = AuditOutcomes.Succeeded, Subject = by.Id, Resource = target, ClientId = clientId, Reason = reason, SessionId = sessionId ?? by.SessionId };
    }
}
