// The community portal as an OpenID Connect provider, played by panva's oidc-provider
// (OpenID Certified) on a free loopback port, for the upstream sign-in tests.
//
// Settings come as JSON in INTEROP_PROVIDER_SETTINGS: the one static client
// (client_secret_basic, PKCE S256 required), the accounts and their claims,
// accounts whose userinfo answers for another subject (a provider gone wrong), and
// whether the claims request parameter is enabled (claims_parameter, default true).
// The library's defaults stay as they are: for the code flow, profile and email
// claims are only in userinfo (conformIdTokenClaims), unless the relying party asks
// for them in the id_token with the claims request parameter.
// Sign-in uses the library's development interactions: a login form whose
// `login` field names the account, which a test posts over plain HTTP.
// Prints "listening <issuer>" once ready; exits when its standard input closes.

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';

import Provider from 'oidc-provider';

const settings = JSON.parse(process.env.INTEROP_PROVIDER_SETTINGS);
const CLAIMS = ['email', 'email_verified', 'given_name', 'family_name', 'account_number'];

function signingKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: 'portal-interop-1', alg: 'RS256', use: 'sig' };
}

async function findAccount(ctx, id) {
  const claims = settings.accounts[id];
  if (!claims) return undefined;
  const answersFor = ctx.oidc.route === 'userinfo' ? settings.userinfo_subject?.[id] : undefined;
  return { accountId: answersFor ?? id, claims: async () => ({ ...claims }) };
}

// A first-party client: the portal grants it what it asks for without a consent page.
async function loadExistingGrant(ctx) {
  const grant = new ctx.oidc.provider.Grant({
    clientId: ctx.oidc.client.clientId,
    accountId: ctx.oidc.session.accountId,
  });
  grant.addOIDCScope('openid email profile');
  grant.addOIDCClaims(CLAIMS);
  await grant.save();
  return grant;
}

function configuration() {
  return {
    clients: [{
      client_id: settings.client_id,
      client_secret: settings.client_secret,
      redirect_uris: [settings.redirect_uri],
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['authorization_code'],
      response_types: ['code'],
    }],
    pkce: { required: () => true },
    jwks: { keys: [signingKey()] },
    cookies: { keys: [randomBytes(32).toString('hex')] },
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['given_name', 'family_name', 'account_number'],
    },
    features: {
      devInteractions: { enabled: true },
      claimsParameter: { enabled: settings.claims_parameter !== false },
    },
    findAccount,
    loadExistingGrant,
  };
}

const server = createServer();
server.listen(0, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, configuration());
  server.on('request', provider.callback());
  process.stdout.write(`listening ${issuer}\n`);
});
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
