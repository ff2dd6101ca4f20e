// Benchmark peer: the MCP TypeScript SDK's CrossAppAccessProvider connects one Client per server to N Ema-protected MCP
// servers, `concurrency` at a time, and reports the wall time from the first connect to the last (node start-up
// excluded). Input: EMA_INTEROP (JSON). Trust: NODE_EXTRA_CA_CERTS. Only loopback URLs are given to it.
import { Client, CrossAppAccessProvider, StreamableHTTPClientTransport, discoverAndRequestJwtAuthGrant } from '@modelcontextprotocol/client';

const input = JSON.parse(process.env.EMA_INTEROP ?? '{}');
const clients = [];
let failed = 0;
let firstError = null;

async function connect(url) {
  const provider = new CrossAppAccessProvider({
    clientId: input.asClientId,
    clientSecret: input.asClientSecret,
    expectedIssuer: input.asIssuer,
    assertion: async (ctx) => (await discoverAndRequestJwtAuthGrant({
      idpUrl: input.idpUrl,
      audience: String(ctx.authorizationServerUrl),
      resource: String(ctx.resourceUrl),
      idToken: input.idToken,
      clientId: input.idpClientId,
      clientSecret: input.idpClientSecret,
      scope: ctx.scope,
      fetchFn: ctx.fetchFn,
    })).jwtAuthGrant,
  });
  const client = new Client({ name: 'ts-fanout', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { authProvider: provider }));
  clients.push(client);
}

const queue = [...input.servers];
const started = performance.now();
await Promise.all(Array.from({ length: input.concurrency }, async () => {
  for (let url = queue.shift(); url !== undefined; url = queue.shift()) {
    try {
      await connect(url);
    } catch (error) {
      failed++;
      firstError ??= String(error?.message ?? error);
    }
  }
}));
const ms = performance.now() - started;
await Promise.all(clients.map((c) => c.close().catch(() => {})));
process.stdout.write(JSON.stringify({ ms, connected: clients.length, failed, firstError }));
