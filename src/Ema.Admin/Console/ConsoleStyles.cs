namespace Ema.Admin.Console;

/// <summary>The console's one stylesheet (served from <see cref="ConsoleNames.StylesPath"/>: the CSP allows no inline style).</summary>
internal static class ConsoleStyles
{
    public const string Css = """
        :root { --ink:#1d2330; --muted:#5b6478; --line:#d9dee8; --bg:#f6f7fb; --accent:#2f5bd3; --ok:#1b7f4b; --bad:#b42318; --warn:#9a6700; }
        * { box-sizing: border-box; }
        body { margin:0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color:var(--ink); background:var(--bg); }
        header.top { display:flex; align-items:center; gap:1.5rem; padding:.6rem 1.5rem; background:#131a2b; color:#fff; }
        header.top .brand { font-weight:700; letter-spacing:.02em; }
        header.top nav a { color:#cfd7ea; text-decoration:none; margin-right:1rem; }
        header.top nav a.active, header.top nav a:hover { color:#fff; text-decoration:underline; }
        header.top .who { margin-left:auto; display:flex; gap:.75rem; align-items:center; color:#cfd7ea; }
        header.top .who form { margin:0; }
        header.top .who button { background:transparent; color:#cfd7ea; border:1px solid #4a5675; padding:.2rem .6rem; }
        main { padding:1.25rem 1.5rem 3rem; max-width:1200px; }
        main.narrow { max-width:640px; margin:3rem auto; background:#fff; border:1px solid var(--line); border-radius:8px; }
        h1 { font-size:1.4rem; margin:.2rem 0 1rem; }
        h2 { font-size:1.1rem; margin:1.5rem 0 .5rem; }
        table { border-collapse:collapse; width:100%; background:#fff; border:1px solid var(--line); }
        th, td { text-align:left; padding:.4rem .6rem; border-bottom:1px solid var(--line); vertical-align:top; }
        th { background:#eef1f7; font-weight:600; }
        code, .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, monospace; font-size:.92em; }
        form.inline { display:inline; margin:0; }
        fieldset { border:1px solid var(--line); background:#fff; border-radius:6px; padding:.8rem 1rem; margin:0 0 1rem; }
        legend { font-weight:600; padding:0 .3rem; }
        label { display:inline-block; margin:.25rem 1rem .25rem 0; }
        input[type=text], input[type=number], input[type=datetime-local], select, textarea { font:inherit; padding:.3rem .4rem; border:1px solid #b9c1d3; border-radius:4px; background:#fff; }
        textarea { width:100%; font-family: ui-monospace, Menlo, monospace; font-size:13px; }
        button { font:inherit; padding:.3rem .8rem; border-radius:4px; border:1px solid var(--accent); background:var(--accent); color:#fff; cursor:pointer; }
        button.secondary { background:#fff; color:var(--accent); }
        button.link { background:none; border:0; color:var(--muted); padding:0 .1rem; }
        button.danger { background:#fff; color:var(--bad); border-color:var(--bad); }
        .ok { color:var(--ok); font-weight:600; }
        .bad { color:var(--bad); font-weight:600; }
        .warn { color:var(--warn); }
        .muted { color:var(--muted); }
        .notice { background:#fff; border-left:4px solid var(--accent); padding:.6rem .9rem; margin:0 0 1rem; }
        .notice.error { border-color:var(--bad); }
        .notice.secret { border-color:var(--warn); }
        .cards { display:grid; grid-template-columns:repeat(auto-fill, minmax(180px, 1fr)); gap:.8rem; }
        .card { background:#fff; border:1px solid var(--line); border-radius:8px; padding:.8rem 1rem; }
        .card .n { font-size:1.6rem; font-weight:700; }
        ul.explain { margin:.3rem 0; padding-left:1.2rem; }
        .pill { display:inline-block; padding:0 .45rem; border-radius:10px; background:#eef1f7; margin:0 .2rem .2rem 0; }
        .pill.high { background:#fde7e5; color:var(--bad); }
        .pill.medium { background:#fff3d6; color:var(--warn); }
        """;
}
