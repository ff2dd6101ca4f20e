// Independent peer: the MCP TypeScript SDK's EMA leg-1 helpers obtain an ID-JAG from Ema's IdP.
// Input comes from the EMA_INTEROP environment variable (JSON), never from argv, so secrets stay out of process lists.
// Trust in Ema's local CA comes from NODE_EXTRA_CA_CERTS (set by the test), not from disabling TLS checks.
import { discoverAndRequestJwtAuthGrant, requestJwtAuthorizationGrant } from '@modelcontextprotocol/client';

const input = JSON.parse(process.env.EMA_INTEROP ?? '{}');
const common = {
  audience: input.audience,
  resource: input.resource,
  idToken: input.idToken,
  clientId: input.clientId,
  clientSecret: input.clientSecret,
  scope: input.scope,
};

try {
  const result = input.mode === 'discover'
    ? await discoverAndRequestJwtAuthGrant({ idpUrl: input.idpUrl, ...common })
    : await requestJwtAuthorizationGrant({ tokenEndpoint: input.tokenEndpoint, ...common });
  process.stdout.write(JSON.stringify({ jwtAuthGrant: result.jwtAuthGrant, expiresIn: result.expiresIn ?? null, scope: result.scope ?? null }));
} catch (error) {
  process.stderr.write(`interop peer failed: ${error?.message ?? error}\n`);
  process.exit(1);
}
