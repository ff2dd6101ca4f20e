namespace Ema.Protocol;

/// <summary>
/// A stable error id with the OAuth error code, HTTP status and default description it always travels with.
/// </summary>
/// <remarks>
/// Ids never change meaning once shipped; <c>docs/errors.md</c> has one anchor per id, and the <c>error_uri</c> Ema
/// sends points there. A test checks that every id declared in <see cref="ErrorIds"/> is documented.
/// </remarks>
/// <param name="Id">Stable id such as <c>EMA2104</c>.</param>
/// <param name="Code">The RFC 6749 §5.2 / RFC 6750 §3.1 error code.</param>
/// <param name="StatusCode">HTTP status used when the error is the answer to a request.</param>
/// <param name="Description">Default human-readable <c>error_description</c> (never contains token material).</param>
public sealed record ErrorDescriptor(string Id, string Code, int StatusCode, string Description);
