// Independent resource server: the MCP TypeScript SDK server with Express, verifying Ema's access tokens itself with
// jose against Ema's JWKS (issuer, audience = this resource, typ at+jwt, ES256). Loopback only; stops on stdin close.
// Input: EMA_INTEROP (JSON {port, resource, issuer, jwksUri}). Trust for Ema's https: NODE_EXTRA_CA_CERTS.
import express from 'express';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { McpServer, OAuthError, OAuthErrorCode, WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/server';
import { requireBearerAuth } from '@modelcontextprotocol/express';

const { port, resource, issuer, jwksUri } = JSON.parse(process.env.EMA_INTEROP ?? '{}');
const jwks = createRemoteJWKSet(new URL(jwksUri));
const verifier = {
  async verifyAccessToken(token) {
    let payload;
    try {
      ({ payload } = await jwtVerify(token, jwks, { issuer, audience: resource, typ: 'at+jwt', algorithms: ['ES256'] }));
    } catch (error) {
      throw new OAuthError(OAuthErrorCode.InvalidToken, `token rejected: ${error?.code ?? 'invalid'}`);
    }
    return {
      token,
      clientId: payload.client_id,
      scopes: String(payload.scope ?? '').split(' ').filter(Boolean),
      expiresAt: payload.exp,
      extra: { sub: payload.sub },
    };
  },
};

const app = express();
app.use(express.json());
app.post('/mcp', requireBearerAuth({ verifier, requiredScopes: ['notes.read'] }), async (req, res) => {
  const server = new McpServer({ name: 'independent-ts-resource-server', version: '1.0.0' });
  server.registerTool('whoami', { description: 'Echo the token subject' }, async (ctx) => ({
    content: [{ type: 'text', text: `sub=${ctx?.http?.authInfo?.extra?.sub} scopes=${ctx?.http?.authInfo?.scopes?.join(' ')}` }],
  }));
  const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
  await server.connect(transport);
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (typeof value === 'string') headers.set(name, value);
  }
  const request = new Request(`http://127.0.0.1:${port}/mcp`, { method: 'POST', headers, body: JSON.stringify(req.body) });
  const response = await transport.handleRequest(request, { parsedBody: req.body, authInfo: req.auth });
  res.status(response.status);
  response.headers.forEach((value, name) => res.setHeader(name, value));
  res.send(Buffer.from(await response.arrayBuffer()));
  await server.close();
});

const listener = app.listen(port, '127.0.0.1', () => process.stdout.write('ready\n'));
process.stdin.on('end', () => listener.close(() => process.exit(0)));
process.stdin.resume();
