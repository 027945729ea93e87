// Test-only OpenID provider: panva/oidc-provider (OpenID Certified), an implementation we did
// not write, as an independent issuer for chartgate's token-verification and SMART Backend
// Services tests. Synthetic identities only. See README.md.
//
//   node server.mjs --config CONFIG.json [--port 0] [--exit-on-stdin-close]
//
// Prints "LISTENING <port>" once it accepts connections; the issuer is http://127.0.0.1:<port>.
// CONFIG.json (written by tests/idp_oidc_provider.py):
//   resource           the resource indicator (RFC 8707) = chartgate's audience
//   resource_scopes    scopes the resource server knows (chartgate/..., user/..., system/...)
//   backend_clients    [{client_id, jwks, scope, alg}]: private_key_jwt + client_credentials
//   app_clients        [{client_id, redirect_uri, scope}]: public clients, authorization code + PKCE
//   accounts           {login: {fhirUser, patient, encounter, tenant}}
//   host               (optional) the host name in the issuer URL (default 127.0.0.1; the EHR-shell
//                      test uses "localhost" so the IdP is same-site with the EHR, not with chartgate)
//   app_clients[]      may also carry backchannel_logout_uri (oidc-provider sends the logout token)
//                      and frontchannel_logout_uri (this server renders it in an iframe on the
//                      sign-out page, with iss and sid: OpenID Connect Front-Channel Logout 1.0)
//
// SMART App Launch (EHR launch), for the reviewer page's EHR-shell tests:
//   POST /test/launches {patient, encounter, iss}  -> {"launch": "<opaque id>"}: what an EHR does
//        before it opens an app; /auth then accepts launch=<id> (scope "launch", aud = iss) and the
//        token answer carries "patient" and "encounter" (and the access token the same claims).
//   POST /test/logout-channels {backchannel, frontchannel}: switch either logout channel off/on.
//   GET /interaction/<uid> with Accept: text/html is a login form a browser can fill in.
//
// The login step is ours (POST /interaction/<uid>/login with login, amr, acr, auth_time) so a test
// can choose the authentication evidence; everything else (authorization endpoint, PKCE, code
// exchange, client authentication, replay detection, token format and signature) is oidc-provider.
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';

import Provider, { errors } from 'oidc-provider';

const MAX_ASSERTION_SECONDS = 300;

function parseArgs(argv) {
  const args = { port: 0, config: null, exitOnStdinClose: false };
  for (let i = 0; i < argv.length; i += 1) {
    if (argv[i] === '--port') args.port = Number(argv[(i += 1)]);
    else if (argv[i] === '--config') args.config = argv[(i += 1)];
    else if (argv[i] === '--exit-on-stdin-close') args.exitOnStdinClose = true;
    else throw new Error(`unknown argument ${argv[i]}`);
  }
  if (!args.config) throw new Error('--config is required');
  return args;
}

function signingKey() {
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  return { ...jwk, kid: crypto.randomUUID(), use: 'sig', alg: 'RS256' };
}

function readForm(req) {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => {
      body += chunk;
      if (body.length > 16384) reject(new Error('form too large'));
    });
    req.on('end', () => resolve(Object.fromEntries(new URLSearchParams(body))));
    req.on('error', reject);
  });
}

// SMART EHR launch: launch id -> context; authorization code -> context (until redeemed).
const launches = new Map();
const codeLaunch = new Map();
const channels = { backchannel: true, frontchannel: true };

function escapeHtml(value) {
  return String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function readJson(req) {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => {
      body += chunk;
      if (body.length > 16384) reject(new Error('body too large'));
    });
    req.on('end', () => {
      try {
        resolve(JSON.parse(body || '{}'));
      } catch (error) {
        reject(error);
      }
    });
    req.on('error', reject);
  });
}

// The sign-out page (RP-initiated logout): the front-channel iframes of the clients this session
// signed in to, then oidc-provider's own confirmation form.
function logoutPage(config) {
  return async (ctx, form) => {
    const session = ctx.oidc.session;
    const frames = [];
    if (channels.frontchannel && session?.authorizations) {
      for (const client of config.app_clients) {
        if (!client.frontchannel_logout_uri || !session.authorizations[client.client_id]) continue;
        const url = new URL(client.frontchannel_logout_uri);
        url.searchParams.set('iss', ctx.oidc.issuer);
        const sid = session.sidFor(client.client_id);
        if (sid) url.searchParams.set('sid', sid);
        frames.push(`<iframe title="signing out of ${escapeHtml(client.client_id)}" src="${escapeHtml(url.href)}" width="1" height="1"></iframe>`);
      }
    }
    ctx.body = `<!doctype html><html lang="en"><head><title>Sign out</title></head><body><main>
<h1>Sign out of the test identity provider</h1>${frames.join('')}${form}
<button type="submit" form="op.logoutForm" name="logout" value="yes">Yes, sign me out</button>
</main></body></html>`;
  };
}

function buildProvider(issuer, config) {
  const oidcScopes = new Set(['openid', 'fhirUser', 'offline_access', 'launch']);
  const clients = [
    ...config.backend_clients.map((c) => ({
      client_id: c.client_id,
      token_endpoint_auth_method: 'private_key_jwt',
      token_endpoint_auth_signing_alg: c.alg,
      jwks: c.jwks,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      scope: c.scope,
    })),
    ...config.app_clients.map((c) => ({
      client_id: c.client_id,
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code'],
      response_types: ['code'],
      redirect_uris: [c.redirect_uri],
      scope: c.scope,
      ...(c.backchannel_logout_uri
        ? { backchannel_logout_uri: c.backchannel_logout_uri, backchannel_logout_session_required: true }
        : {}),
    })),
  ];
  return new Provider(issuer, {
    clients,
    jwks: { keys: [signingKey()] },
    cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
    clientAuthMethods: ['private_key_jwt', 'none'],
    enabledJWA: { clientAuthSigningAlgValues: ['RS384', 'ES384'] },
    claims: { openid: ['sub'], fhirUser: ['fhirUser'] },
    scopes: [...oidcScopes, ...config.resource_scopes],
    pkce: { required: () => true },
    extraParams: ['launch', 'aud'],
    // Back-channel logout POSTs to chartgate on 127.0.0.1: oidc-provider's outgoing requests
    // refuse special-use addresses (SSRF protection), which every test server here is.
    fetch: (url, options) => {
      const { dispatcher, ...rest } = options;
      return globalThis.fetch(url, rest);
    },
    features: {
      devInteractions: { enabled: false },
      backchannelLogout: { enabled: true },
      rpInitiatedLogout: { enabled: true, logoutSource: logoutPage(config) },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => config.resource,
        useGrantedResource: () => true,
        getResourceServerInfo: (ctx, resource) => {
          if (resource !== config.resource) throw new errors.InvalidTarget();
          return {
            scope: config.resource_scopes.join(' '),
            audience: resource,
            accessTokenTTL: 300,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
    // SMART Backend Services: a client assertion lives at most five minutes.
    async assertJwtClientAuthClaimsAndHeader(ctx, claims) {
      const issuedAt = claims.iat ?? Math.floor(Date.now() / 1000);
      if (claims.exp - issuedAt > MAX_ASSERTION_SECONDS) {
        throw new errors.InvalidClientAuth('client assertion lives longer than five minutes');
      }
    },
    async findAccount(ctx, id) {
      if (!config.accounts[id]) return undefined;
      return { accountId: id, claims: async () => ({ sub: id, fhirUser: config.accounts[id].fhirUser }) };
    },
    // What a SMART EHR's authorization server puts in the access token: the user's chart
    // identity, the launch context and the authentication evidence of the login.
    async extraTokenClaims(ctx, token) {
      const account = token.accountId ? config.accounts[token.accountId] : undefined;
      if (!account) return undefined;
      const code = ctx.oidc.entities.AuthorizationCode;
      const extra = { fhirUser: account.fhirUser };
      for (const name of ['patient', 'encounter', 'tenant']) {
        if (account[name]) extra[name] = account[name];
      }
      // An EHR launch: the launch's context replaces the account's (and goes in the answer).
      const launch = code ? codeLaunch.get(code.jti) : undefined;
      if (launch) {
        delete extra.patient;
        delete extra.encounter;
        for (const name of ['patient', 'encounter']) {
          if (launch[name]) extra[name] = launch[name];
        }
        ctx.oidc.launchContext = launch;
      }
      if (code?.authTime) extra.auth_time = code.authTime;
      if (code?.acr) extra.acr = code.acr;
      if (code?.amr) extra.amr = code.amr;
      if (token.sid) extra.sid = token.sid;
      return extra;
    },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    ttl: { Session: 3600, Interaction: 600, Grant: 3600, AuthorizationCode: 60 },
  });
}

async function login(provider, config, req, res) {
  const form = await readForm(req);
  const details = await provider.interactionDetails(req, res);
  const { params } = details;
  if (!config.accounts[form.login]) {
    res.writeHead(400, { 'content-type': 'text/plain' }).end('unknown login');
    return;
  }
  const requested = String(params.scope || '').split(' ').filter(Boolean);
  const grant = new provider.Grant({ accountId: form.login, clientId: params.client_id });
  // Resource scopes are also listed in "scopes" (client metadata must name only known ones),
  // so the provider asks consent for them as OpenID scopes too.
  grant.addOIDCScope(requested.join(' '));
  grant.addResourceScope(
    config.resource,
    requested.filter((s) => config.resource_scopes.includes(s)).join(' '),
  );
  const grantId = await grant.save();
  const result = {
    login: {
      accountId: form.login,
      ...(form.acr ? { acr: form.acr } : {}),
      ...(form.amr ? { amr: form.amr.split(' ').filter(Boolean) } : {}),
      ...(form.auth_time ? { ts: Number(form.auth_time) } : {}),
    },
    consent: { grantId },
  };
  await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
}

const args = parseArgs(process.argv.slice(2));
const config = JSON.parse(fs.readFileSync(args.config, 'utf8'));
const server = http.createServer();
server.listen(args.port, '127.0.0.1', () => {
  const { port } = server.address();
  const provider = buildProvider(`http://${config.host || '127.0.0.1'}:${port}`, config);
  provider.on('server_error', (ctx, error) => process.stderr.write(`server_error: ${error.stack}\n`));
  provider.on('backchannel.error', (ctx, error) => process.stderr.write(`backchannel.error: ${error.message}\n`));
  const backchannelLogout = provider.Client.prototype.backchannelLogout;
  provider.Client.prototype.backchannelLogout = async function switchable(...rest) {
    if (!channels.backchannel) return undefined;
    return backchannelLogout.apply(this, rest);
  };
  provider.use(async (ctx, next) => {
    if (ctx.path === '/auth' && ctx.query.launch !== undefined) {
      const launch = launches.get(String(ctx.query.launch));
      if (!launch || String(ctx.query.aud || '') !== launch.iss) {
        ctx.status = 400;
        ctx.body = { error: 'invalid_request', error_description: 'unknown launch or aud' };
        return;
      }
    }
    await next();
    if (ctx.path.startsWith('/auth') && ctx.oidc?.params?.launch) {
      const location = ctx.response.get('location');
      const code = location ? new URL(location, ctx.href).searchParams.get('code') : null;
      if (code) codeLaunch.set(code, launches.get(String(ctx.oidc.params.launch)));
    }
    if (ctx.path === '/token' && ctx.status === 200 && ctx.oidc?.launchContext && ctx.body) {
      const { patient, encounter } = ctx.oidc.launchContext;
      ctx.body = { ...ctx.body, ...(patient ? { patient } : {}), ...(encounter ? { encounter } : {}) };
    }
  });
  const callback = provider.callback();
  server.on('request', (req, res) => {
    const { pathname } = new URL(req.url, 'http://127.0.0.1');
    if (pathname === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
      return;
    }
    if (pathname === '/test/launches' && req.method === 'POST') {
      readJson(req).then((body) => {
        const launch = crypto.randomBytes(16).toString('hex');
        launches.set(launch, { patient: body.patient, encounter: body.encounter, iss: body.iss });
        res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ launch }));
      }, () => res.writeHead(400).end('bad launch'));
      return;
    }
    if (pathname === '/test/logout-channels' && req.method === 'POST') {
      readJson(req).then((body) => {
        channels.backchannel = body.backchannel !== false;
        channels.frontchannel = body.frontchannel !== false;
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(channels));
      }, () => res.writeHead(400).end('bad switch'));
      return;
    }
    const match = /^\/interaction\/([^/]+)\/login$/.exec(pathname);
    if (match && req.method === 'POST') {
      login(provider, config, req, res).catch((error) => {
        process.stderr.write(`login failed: ${error.stack}\n`);
        if (!res.headersSent) res.writeHead(500).end('login failed');
      });
      return;
    }
    if (/^\/interaction\/[^/]+$/.test(pathname) && req.method === 'GET') {
      // What the provider still needs (prompt name, reasons): for tests to see and debug.
      const html = String(req.headers.accept || '').includes('text/html');
      provider.interactionDetails(req, res).then(
        ({ prompt, uid }) => {
          if (!html) {
            res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(prompt));
            return;
          }
          // A browser: a login form (synthetic accounts; the second factor is declared).
          res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(`<!doctype html>
<html lang="en"><head><title>Sign in to the test EHR</title></head><body><main>
<h1>Sign in to the test EHR</h1>
<form method="post" action="/interaction/${escapeHtml(uid)}/login">
<label for="login">User name</label> <input id="login" name="login" autocomplete="username">
<input type="hidden" name="amr" value="pwd otp">
<button type="submit">Sign in</button>
</form></main></body></html>`);
        },
        () => res.writeHead(400).end('no interaction'),
      );
      return;
    }
    callback(req, res);
  });
  process.stdout.write(`LISTENING ${port}\n`);
});

if (args.exitOnStdinClose) {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('close', () => process.exit(0));
  process.stdin.resume();
}
