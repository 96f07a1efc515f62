// The bidder page's configuration and sign-in helpers (web/auth.js), without a browser:
// `node --test web/test/`. See docs/web.md.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';

const Auth = createRequire(import.meta.url)('../auth.js');

const COGNITO = {
  apiUrl: 'https://abc123.execute-api.eu-west-1.amazonaws.com/',
  liveUrl: 'wss://def456.execute-api.eu-west-1.amazonaws.com/live',
  signIn: {
    kind: 'cognito',
    domain: 'https://auctionplatform-1a2b3c4d.auth.eu-west-1.amazoncognito.com/',
    clientId: '4example0client0id0abcdefgh',
    redirectUri: 'https://d111111abcdef8.cloudfront.net/',
  },
};

/** An unsigned JWT with these claims (the page never verifies signatures). */
function jwt(claims) {
  const part = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'RS256', kid: 'k' })}.${part(claims)}.c2lnbmF0dXJl`;
}

describe('config.json', () => {
  it('absent: the API and /live on the page\'s origin, demo sign-in', () => {
    const config = Auth.defaultConfig();
    assert.deepEqual(config, { apiUrl: null, liveUrl: null, signIn: { kind: 'dev' } });
    assert.equal(Auth.apiEndpoint(config, '/auctions?status=active'), '/auctions?status=active');
    assert.equal(Auth.liveEndpoint(config, 'http://127.0.0.1:8080/#/auctions/x', 'a.b.c'), 'ws://127.0.0.1:8080/live?token=a.b.c');
    assert.equal(Auth.liveEndpoint(config, 'https://example.org/', 'a.b.c'), 'wss://example.org/live?token=a.b.c');
    assert.deepEqual(Auth.parseConfig({}), config);
  });

  it('cognito: the HTTP API, the WebSocket API and the hosted UI', () => {
    const config = Auth.parseConfig(COGNITO);
    assert.equal(Auth.apiEndpoint(config, '/auctions/1/bids'), 'https://abc123.execute-api.eu-west-1.amazonaws.com/auctions/1/bids');
    assert.equal(
      Auth.liveEndpoint(config, 'https://d111111abcdef8.cloudfront.net/', 'x.y+/z'),
      'wss://def456.execute-api.eu-west-1.amazonaws.com/live?token=x.y%2B%2Fz',
    );
    assert.deepEqual(config.signIn, {
      kind: 'cognito',
      domain: 'https://auctionplatform-1a2b3c4d.auth.eu-west-1.amazoncognito.com',
      clientId: '4example0client0id0abcdefgh',
      redirectUri: 'https://d111111abcdef8.cloudfront.net/',
      logoutUri: 'https://d111111abcdef8.cloudfront.net/',
    });
  });

  it('refuses what would send tokens somewhere odd, naming the field', () => {
    const bad = [
      [[], /object/],
      [{ apiUrl: 'ftp://x' }, /apiUrl/],
      [{ apiUrl: 'not a url' }, /apiUrl/],
      [{ liveUrl: 'https://x/live' }, /liveUrl/],
      [{ signIn: { kind: 'saml' } }, /signIn.kind/],
      [{ signIn: { ...COGNITO.signIn, domain: 'http://plain.example' } }, /signIn.domain/],
      [{ signIn: { ...COGNITO.signIn, clientId: '' } }, /clientId/],
      [{ signIn: { ...COGNITO.signIn, redirectUri: undefined } }, /redirectUri/],
      [{ signIn: { ...COGNITO.signIn, redirectUri: 'https://x/?a=1' } }, /redirectUri/],
    ];
    for (const [raw, message] of bad) assert.throws(() => Auth.parseConfig(raw), message, JSON.stringify(raw));
  });
});

describe('PKCE', () => {
  it('S256 matches RFC 7636 appendix B', async () => {
    assert.equal(
      await Auth.codeChallenge('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk'),
      'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    );
  });

  it('a verifier is 43 unreserved characters, fresh each time, and its challenge is its SHA-256', async () => {
    const seen = new Set();
    for (let i = 0; i < 20; i += 1) {
      const verifier = Auth.randomToken(32);
      assert.match(verifier, /^[A-Za-z0-9_-]{43}$/);
      assert.ok(!seen.has(verifier));
      seen.add(verifier);
      assert.equal(await Auth.codeChallenge(verifier), createHash('sha256').update(verifier).digest('base64url'));
    }
  });

  it('the authorization request: code flow, S256, the scopes, the state, the redirect URI', () => {
    const cognito = Auth.parseConfig(COGNITO).signIn;
    const url = new URL(Auth.authorizeUrl(cognito, { state: 's-1', challenge: 'c-1' }));
    assert.equal(url.origin + url.pathname, 'https://auctionplatform-1a2b3c4d.auth.eu-west-1.amazoncognito.com/oauth2/authorize');
    assert.deepEqual(Object.fromEntries(url.searchParams), {
      response_type: 'code',
      client_id: '4example0client0id0abcdefgh',
      redirect_uri: 'https://d111111abcdef8.cloudfront.net/',
      scope: 'openid email profile',
      state: 's-1',
      code_challenge: 'c-1',
      code_challenge_method: 'S256',
    });
  });

  it('the token requests: the code with its verifier, a refresh, a revocation, no secret', () => {
    const cognito = Auth.parseConfig(COGNITO).signIn;
    const exchange = Auth.codeExchange(cognito, { code: 'the-code', verifier: 'the-verifier' });
    assert.equal(exchange.url, 'https://auctionplatform-1a2b3c4d.auth.eu-west-1.amazoncognito.com/oauth2/token');
    assert.equal(exchange.init.method, 'POST');
    assert.equal(exchange.init.headers['Content-Type'], 'application/x-www-form-urlencoded');
    assert.deepEqual(Object.fromEntries(new URLSearchParams(exchange.init.body)), {
      client_id: '4example0client0id0abcdefgh',
      grant_type: 'authorization_code',
      code: 'the-code',
      redirect_uri: 'https://d111111abcdef8.cloudfront.net/',
      code_verifier: 'the-verifier',
    });
    const refresh = Auth.refreshRequest(cognito, 'r-1');
    assert.deepEqual(Object.fromEntries(new URLSearchParams(refresh.init.body)), {
      client_id: '4example0client0id0abcdefgh', grant_type: 'refresh_token', refresh_token: 'r-1',
    });
    const revoke = Auth.revokeRequest(cognito, 'r-1');
    assert.match(revoke.url, /\/oauth2\/revoke$/);
    assert.deepEqual(Object.fromEntries(new URLSearchParams(revoke.init.body)), { token: 'r-1', client_id: '4example0client0id0abcdefgh' });
    const logout = new URL(Auth.logoutUrl(cognito));
    assert.equal(logout.pathname, '/logout');
    assert.equal(logout.searchParams.get('logout_uri'), 'https://d111111abcdef8.cloudfront.net/');
  });

  it('reads the redirect back: a code, an error, or nothing', () => {
    assert.deepEqual(Auth.callbackParams('?code=abc&state=s-1'), { code: 'abc', state: 's-1' });
    assert.deepEqual(Auth.callbackParams('?error=access_denied&error_description=no&state=s-1'), {
      error: 'access_denied', errorDescription: 'no', state: 's-1',
    });
    assert.equal(Auth.callbackParams(''), null);
  });
});

describe('tokens', () => {
  const claims = {
    sub: '5f2c1a9e-0000-4000-8000-000000000001',
    aud: '4example0client0id0abcdefgh',
    token_use: 'id',
    email: 'ann@example.org',
    'cognito:username': '5f2c1a9e-0000-4000-8000-000000000001',
    name: 'Ann Ö',
    exp: 1_900_000_000,
  };

  it('the user id is the sub (as the API takes it), shown by email, with the expiry', () => {
    const decoded = Auth.decodeJwt(jwt(claims));
    assert.deepEqual(decoded, claims);
    assert.deepEqual(Auth.identity(decoded, claims.aud), {
      sub: claims.sub, name: 'ann@example.org', expiresAt: 1_900_000_000_000,
    });
    const { email, ...noEmail } = claims;
    assert.equal(Auth.identity(noEmail, claims.aud).name, claims['cognito:username']);
  });

  it('refuses what is not an ID token of this client', () => {
    assert.throws(() => Auth.decodeJwt('a.b'), /JWT/);
    assert.throws(() => Auth.identity({ ...claims, aud: 'another' }, claims.aud), /another client/);
    assert.throws(() => Auth.identity({ ...claims, token_use: 'access' }, claims.aud), /ID token/);
    assert.throws(() => Auth.identity({ ...claims, sub: '' }, claims.aud), /sub/);
  });
});
