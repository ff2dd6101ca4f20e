// Independent peer: the MCP TypeScript SDK's CrossAppAccessProvider + Client + StreamableHTTPClientTransport complete the
// EMA flow against Ema's authorization server and an Ema-protected MCP server, then list and call a tool.
// Input: EMA_INTEROP (JSON). Trust: NODE_EXTRA_CA_CERTS. Secrets never go on the command line.
import { Client, CrossAppAccessProvider, StreamableHTTPClientTransport, discoverAndRequestJwtAuthGrant } from '@modelcontextprotocol/client';

const input = JSON.parse(process.env.EMA_INTEROP ?? '{}');
try {
  const provider = new CrossAppAccessProvider({
    clientId: input.asClientId,
    clientSecret: input.asClientSecret,
    expectedIssuer: input.asIssuer,
    // Leg 1 inside the callback: the SDK hands over the AS and resource it discovered from the MCP server's metadata.
    assertion: async (ctx) => {
      const grant = await discoverAndRequestJwtAuthGrant({
        idpUrl: input.idpUrl,
        audience: String(ctx.authorizationServerUrl),
        resource: String(ctx.resourceUrl),
        idToken: input.idToken,
        clientId: input.idpClientId,
        clientSecret: input.idpClientSecret,
        scope: ctx.scope,
        fetchFn: ctx.fetchFn,
      });
      return grant.jwtAuthGrant;
    },
  });
  const client = new Client({ name: 'ts-interop', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(input.mcpUrl), { authProvider: provider }));
  const tools = await client.listTools();
  const result = await client.callTool({ name: input.tool, arguments: input.arguments ?? {} });
  await client.close();
  process.stdout.write(JSON.stringify({ tools: tools.tools.map((t) => t.name).sort(), text: result.content?.[0]?.text ?? null }));
} catch (error) {
  process.stderr.write(`interop peer failed: ${error?.stack ?? error}\n`);
  process.exit(1);
}
