// A real OpenID provider (panva's oidc-provider, certified by the OpenID Foundation) on
// loopback, for Ferry's end-to-end sign-in tests: authorization code with PKCE (required, S256),
// nonce, RS256 ID tokens with a `groups` claim, userinfo, RP-initiated logout, and a login form
// that checks passwords. It prints `READY <issuer>` on stdout once it listens, nothing else there.
//
//   node provider.mjs [config.json]
//
// The config (every field optional; see README.md):
//   port            where to listen on 127.0.0.1 (default 4444; env FERRY_IDP_PORT wins)
//   keys_dir        where signing keys live, one `<kid>.jwk.json` each, made on first use
//                   (default: a `keys` folder beside the config file)
//   signing_keys    key ids, the first signs, the others are only published in the JWKS so that
//                   tokens signed before a rotation still verify (default ["key-1"])
//   clients         [{client_id, client_secret?, redirect_uris, post_logout_redirect_uris?,
//                     token_endpoint_auth_method?, application_type?}]
//   users           [{username, password, email, name, groups}]
//
// Consent is granted automatically for every configured client (they are all first-party here):
// after a good password the browser goes straight back to the client's redirect URI.
// The `groups` claim is in the ID token and userinfo when the scope `groups` is asked for (as
// Dex and Keycloak do); `email` and `profile` likewise with their scopes.

import Provider from 'oidc-provider';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

const configPath = process.argv[2];
const config = configPath ? JSON.parse(readFileSync(configPath, 'utf8')) : {};
const port = Number(process.env.FERRY_IDP_PORT || config.port || 4444);
const issuer = config.issuer || `http://127.0.0.1:${port}`;
const keysDir = resolve(config.keys_dir || join(configPath ? dirname(configPath) : process.cwd(), 'keys'));
const signingKeys = config.signing_keys?.length ? config.signing_keys : ['key-1'];

const users = config.users || [
  { username: 'alice', password: 'alice-password', email: 'alice@example.com', name: 'Alice Anders', groups: ['platform', 'sre'] },
  { username: 'bob', password: 'bob-password', email: 'bob@example.com', name: 'Bob Brown', groups: ['dev'] },
  { username: 'mallory', password: 'mallory-password', email: 'mallory@example.com', name: 'Mallory Mayer', groups: ['other'] },
];

const clients = (config.clients || []).map((c) => ({
  client_id: c.client_id,
  ...(c.client_secret ? { client_secret: c.client_secret } : {}),
  redirect_uris: c.redirect_uris,
  post_logout_redirect_uris: c.post_logout_redirect_uris || [],
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
  token_endpoint_auth_method: c.token_endpoint_auth_method || (c.client_secret ? 'client_secret_basic' : 'none'),
  // A native client may use any port on a loopback redirect URI (RFC 8252 7.3), as a CLI does.
  application_type: c.application_type || 'web',
}));

// === signing keys ===

/** The private JWK `kid`, read from keys_dir, or made (RSA 2048) and kept there. */
function signingKey(kid) {
  const file = join(keysDir, `${kid}.jwk.json`);
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8'));
  mkdirSync(keysDir, { recursive: true });
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...privateKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' };
  writeFileSync(file, JSON.stringify(jwk), { mode: 0o600 });
  return jwk;
}

// === pages ===

const html = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(title, body) {
  return `<!DOCTYPE html><html><head><meta charset="utf-8"><title>${html(title)}</title></head>
<body><main id="main"><h1>${html(title)}</h1>${body}</main></body></html>`;
}

function loginPage(uid, clientId, login, error) {
  return page('Sign in to the test identity provider', `
<p id="client">to continue to <b>${html(clientId)}</b></p>
${error ? `<p id="login-error" class="error" role="alert">${html(error)}</p>` : ''}
<form id="login-form" method="post" action="/interaction/${html(uid)}/login" autocomplete="off">
  <label for="login">Username</label> <input id="login" name="login" value="${html(login || '')}" autofocus>
  <label for="password">Password</label> <input id="password" name="password" type="password">
  <button id="submit" type="submit">Sign in</button>
</form>`);
}

async function readForm(req) {
  let body = '';
  for await (const chunk of req) body += chunk;
  return Object.fromEntries(new URLSearchParams(body));
}

// === the provider ===

const provider = new Provider(issuer, {
  clients,
  jwks: { keys: signingKeys.map(signingKey) },
  cookies: { keys: ['ferry-test-idp-cookies'] },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'preferred_username'],
    groups: ['groups'],
  },
  // Claims asked for by scope go in the ID token too, not only in userinfo.
  conformIdTokenClaims: false,
  responseTypes: ['code'],
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: false },
    userinfo: { enabled: true },
    rpInitiatedLogout: {
      enabled: true,
      logoutSource(ctx, form) {
        ctx.body = page('Sign out', `${form}
<button id="logout-confirm" type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button>
<button id="logout-cancel" type="submit" form="op.logoutForm">No, stay signed in</button>`);
      },
      postLogoutSuccessSource(ctx) {
        ctx.body = page('Signed out', '<p id="signed-out">You are signed out.</p>');
      },
    },
  },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(_ctx, sub) {
    const user = users.find((u) => u.username === sub);
    if (!user) return undefined;
    return {
      accountId: sub,
      async claims() {
        return {
          sub,
          email: user.email,
          email_verified: true,
          name: user.name,
          preferred_username: user.username,
          groups: user.groups || [],
        };
      },
    };
  },
  async renderError(ctx, out) {
    ctx.type = 'html';
    ctx.body = page('Error', `<pre id="error">${html(JSON.stringify(out, null, 2))}</pre>`);
  },
});

// The login form and the automatic consent: /interaction/<uid> and /interaction/<uid>/login.
provider.use(async (ctx, next) => {
  const m = ctx.path.match(/^\/interaction\/([^/]+)(\/login)?$/);
  if (!m) return next();
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  const { prompt, params } = details;
  ctx.set('Cache-Control', 'no-store');

  if (m[2] && ctx.method === 'POST') {
    const form = await readForm(ctx.req);
    const user = users.find((u) => u.username === form.login);
    if (!user || user.password !== form.password) {
      ctx.status = 401;
      ctx.type = 'html';
      ctx.body = loginPage(details.uid, params.client_id, form.login, 'Wrong username or password.');
      return undefined;
    }
    const to = await provider.interactionResult(ctx.req, ctx.res, { login: { accountId: user.username } }, { mergeWithLastSubmission: false });
    ctx.status = 303;
    return ctx.redirect(to);
  }
  if (ctx.method !== 'GET') return next();

  if (prompt.name === 'login') {
    ctx.type = 'html';
    ctx.body = loginPage(details.uid, params.client_id);
    return undefined;
  }
  if (prompt.name === 'consent') {
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: details.session.accountId, clientId: params.client_id });
    const missing = prompt.details;
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes || {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    const grantId = await grant.save();
    const to = await provider.interactionResult(ctx.req, ctx.res, { consent: details.grantId ? {} : { grantId } }, { mergeWithLastSubmission: true });
    ctx.status = 303;
    return ctx.redirect(to);
  }
  return next();
});

provider.on('server_error', (_ctx, err) => console.error('server_error', err));

const server = provider.listen(port, '127.0.0.1', () => {
  console.log(`READY ${issuer}`);
});
server.on('error', (err) => {
  console.error(`cannot listen on 127.0.0.1:${port}: ${err.message}`);
  process.exit(1);
});
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => process.exit(0));
