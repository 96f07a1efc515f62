// The bidder page's configuration and sign-in helpers: pure functions (no DOM, no storage, no
// network), loaded by the page before app.js (as `AuctionAuth`) and by `node --test
// web/test/` (as a CommonJS module). See docs/web.md.
//
// - `parseConfig`: config.json (absent: local defaults) -> where the API and the live socket
//   are and how users sign in;
// - OAuth 2.0 authorization code flow with PKCE (RFC 7636, S256) against the Cognito hosted UI:
//   `/oauth2/authorize`, `/oauth2/token`, `/oauth2/revoke`, `/logout`;
// - `decodeJwt` / `identity`: the user the API sees in a token (its `sub`: what api-lambda's
//   `claims_from_request_context` and live-ws-lambda take as the user id).
'use strict';

(function expose(root, factory) {
  const auth = factory();
  if (typeof module === 'object' && module.exports) module.exports = auth;
  else root.AuctionAuth = auth;
})(typeof self !== 'undefined' ? self : globalThis, () => {
  /** What the page asks Cognito for: the ID token (with email) is the API's Bearer token. */
  const SCOPES = 'openid email profile';

  /** The configuration without config.json: the API and /live on the page's own origin, demo sign-in. */
  function defaultConfig() {
    return { apiUrl: null, liveUrl: null, signIn: { kind: 'dev' } };
  }

  function absoluteUrl(value, name, protocols) {
    if (typeof value !== 'string' || !value.trim()) throw new Error(`${name} must be a URL`);
    let url;
    try {
      url = new URL(value.trim());
    } catch (_) {
      throw new Error(`${name} is not a URL: ${JSON.stringify(value)}`);
    }
    if (!protocols.includes(url.protocol)) {
      throw new Error(`${name} must be ${protocols.map((p) => p.replace(':', '')).join(' or ')}: ${JSON.stringify(value)}`);
    }
    if (url.search || url.hash) throw new Error(`${name} must have no query or fragment`);
    return url;
  }

  /** The URL without a trailing slash (paths are appended to it). */
  function base(url) {
    return url.href.replace(/\/+$/, '');
  }

  /**
   * config.json's content -> `{apiUrl, liveUrl, signIn}`. `apiUrl` (http(s)) and `liveUrl`
   * (ws(s)) are optional (null: the page's own origin); `signIn.kind` is `dev` (the demo
   * sign-in of `api-local --dev`, the default) or `cognito` with `domain` (the hosted UI's
   * https base URL), `clientId`, `redirectUri` and optionally `logoutUri` (default: the
   * redirect URI). Throws an Error naming what is wrong.
   */
  function parseConfig(raw) {
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new Error('config.json must hold a JSON object');
    const config = defaultConfig();
    if (raw.apiUrl !== undefined && raw.apiUrl !== null) {
      config.apiUrl = base(absoluteUrl(raw.apiUrl, 'apiUrl', ['https:', 'http:']));
    }
    if (raw.liveUrl !== undefined && raw.liveUrl !== null) {
      config.liveUrl = absoluteUrl(raw.liveUrl, 'liveUrl', ['wss:', 'ws:']).href;
    }
    const signIn = raw.signIn === undefined || raw.signIn === null ? { kind: 'dev' } : raw.signIn;
    if (typeof signIn !== 'object' || Array.isArray(signIn)) throw new Error('signIn must be an object');
    if (signIn.kind === 'dev') {
      config.signIn = { kind: 'dev' };
    } else if (signIn.kind === 'cognito') {
      if (typeof signIn.clientId !== 'string' || !/^[\w+]+$/.test(signIn.clientId)) {
        throw new Error('signIn.clientId must be the app client id');
      }
      const redirectUri = absoluteUrl(signIn.redirectUri, 'signIn.redirectUri', ['https:', 'http:']).href;
      config.signIn = {
        kind: 'cognito',
        domain: base(absoluteUrl(signIn.domain, 'signIn.domain', ['https:'])),
        clientId: signIn.clientId,
        redirectUri,
        logoutUri: signIn.logoutUri === undefined || signIn.logoutUri === null
          ? redirectUri
          : absoluteUrl(signIn.logoutUri, 'signIn.logoutUri', ['https:', 'http:']).href,
      };
    } else {
      throw new Error(`signIn.kind must be "dev" or "cognito", not ${JSON.stringify(signIn.kind)}`);
    }
    return config;
  }

  /** Where an API path goes: `/auctions` on `apiUrl`, or on the page's own origin. */
  function apiEndpoint(config, path) {
    return config.apiUrl ? `${config.apiUrl}${path}` : path;
  }

  /** The live socket's URL with the token: `liveUrl`, or `ws(s)://<the page's host>/live`. */
  function liveEndpoint(config, pageUrl, token) {
    let url;
    if (config.liveUrl) {
      url = new URL(config.liveUrl);
    } else {
      url = new URL('/live', pageUrl);
      url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    }
    url.searchParams.set('token', token);
    return url.href;
  }

  // ------------------------------------------------------------------------- PKCE (RFC 7636)

  function base64url(bytes) {
    let binary = '';
    for (const byte of bytes) binary += String.fromCharCode(byte);
    return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  /** `size` random bytes, base64url: 32 bytes make a 43-character code verifier. */
  function randomToken(size = 32) {
    return base64url(crypto.getRandomValues(new Uint8Array(size)));
  }

  /** The S256 code challenge of a verifier: base64url(SHA-256(verifier)), no padding. */
  async function codeChallenge(verifier) {
    const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier));
    return base64url(new Uint8Array(digest));
  }

  /** The hosted UI's authorization request (code flow, PKCE S256). */
  function authorizeUrl(cognito, { state, challenge }) {
    const params = new URLSearchParams({
      response_type: 'code',
      client_id: cognito.clientId,
      redirect_uri: cognito.redirectUri,
      scope: SCOPES,
      state,
      code_challenge: challenge,
      code_challenge_method: 'S256',
    });
    return `${cognito.domain}/oauth2/authorize?${params}`;
  }

  /** A POST to /oauth2/token (form-encoded; a public client sends no secret). */
  function tokenRequest(cognito, fields) {
    return {
      url: `${cognito.domain}/oauth2/token`,
      init: {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ client_id: cognito.clientId, ...fields }).toString(),
        cache: 'no-store',
      },
    };
  }

  /** The code from the redirect, with the verifier its challenge was made from. */
  function codeExchange(cognito, { code, verifier }) {
    return tokenRequest(cognito, {
      grant_type: 'authorization_code',
      code,
      redirect_uri: cognito.redirectUri,
      code_verifier: verifier,
    });
  }

  /** New ID and access tokens for a refresh token (Cognito keeps the refresh token). */
  function refreshRequest(cognito, refreshToken) {
    return tokenRequest(cognito, { grant_type: 'refresh_token', refresh_token: refreshToken });
  }

  /** Revokes a refresh token (and the tokens issued with it). */
  function revokeRequest(cognito, refreshToken) {
    return {
      url: `${cognito.domain}/oauth2/revoke`,
      init: {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token: refreshToken, client_id: cognito.clientId }).toString(),
        keepalive: true,
      },
    };
  }

  /** The hosted UI's sign-out (ends its session cookie), back to the page afterwards. */
  function logoutUrl(cognito) {
    const params = new URLSearchParams({ client_id: cognito.clientId, logout_uri: cognito.logoutUri });
    return `${cognito.domain}/logout?${params}`;
  }

  /**
   * What the redirect back from the hosted UI carries in the query string: `{code, state}`,
   * `{error, errorDescription, state}`, or null when it is not such a redirect.
   */
  function callbackParams(search) {
    const params = new URLSearchParams(search);
    if (params.has('code')) return { code: params.get('code'), state: params.get('state') };
    if (params.has('error')) {
      return { error: params.get('error'), errorDescription: params.get('error_description'), state: params.get('state') };
    }
    return null;
  }

  // ---------------------------------------------------------------------------------- tokens

  /** A JWT's claims, unverified (the API verifies; the page only reads who and until when). */
  function decodeJwt(token) {
    const parts = typeof token === 'string' ? token.split('.') : [];
    if (parts.length !== 3) throw new Error('not a JWT');
    const text = parts[1].replace(/-/g, '+').replace(/_/g, '/');
    const binary = atob(text.padEnd(text.length + ((4 - (text.length % 4)) % 4), '='));
    const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
    const claims = JSON.parse(new TextDecoder().decode(bytes));
    if (!claims || typeof claims !== 'object') throw new Error('a JWT without claims');
    return claims;
  }

  /**
   * The user of an ID token of this client: `sub` (the user id the API derives from the same
   * claim, so "you lead" and "you won" compare like with like), a name to show (email, else
   * `cognito:username`, else the sub) and when the token expires (ms since the epoch).
   */
  function identity(claims, clientId) {
    if (typeof claims.sub !== 'string' || !claims.sub) throw new Error('the token has no sub');
    if (claims.token_use !== undefined && claims.token_use !== 'id') throw new Error('not an ID token');
    const audience = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (clientId !== undefined && !audience.includes(clientId)) throw new Error('the token is for another client');
    const name = [claims.email, claims['cognito:username'], claims.sub]
      .find((value) => typeof value === 'string' && value);
    return {
      sub: claims.sub,
      name,
      expiresAt: typeof claims.exp === 'number' ? claims.exp * 1000 : null,
    };
  }

  return {
    SCOPES,
    defaultConfig,
    parseConfig,
    apiEndpoint,
    liveEndpoint,
    base64url,
    randomToken,
    codeChallenge,
    authorizeUrl,
    codeExchange,
    refreshRequest,
    revokeRequest,
    logoutUrl,
    callbackParams,
    decodeJwt,
    identity,
  };
});
