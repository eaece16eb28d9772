#!/usr/bin/env node
/*
 * A real OpenID Provider (npm oidc-provider) for the integration tests.
 *
 *   node server.mjs CONFIG.json
 *
 * It binds 127.0.0.1 only: the HTTP port the configuration names (0, the default, lets the
 * kernel choose) and, with a "tls" section, an HTTPS port that asks for client certificates
 * without requiring them (RFC 8705 tls_client_auth and certificate-bound tokens). Once both
 * listen it prints "PORT <n>" (and "TLS_PORT <n>") on stdout, one line each, then serves until
 * SIGTERM or SIGINT.
 *
 * Signing keys come from a key file (a JWK set with private members and unique kids). oidc-
 * provider has no way to change keys at run time, so SIGHUP reads the file again, builds a new
 * Provider from it and swaps it in for the next request; the token store is kept, so opaque
 * tokens issued before stay valid. A successful swap prints "KEYS <kid> <kid> ..." on stdout, a
 * failed one keeps the old Provider and says why on stderr.
 *
 * The configuration (JSON):
 *   issuer           the issuer; "{port}" stands for the HTTP port (default
 *                    "http://127.0.0.1:{port}")
 *   port             the HTTP port (default 0)
 *   keyFile          the JWK set to sign with (required)
 *   tls              {port, cert, key, clientCA}: PEM file paths; clientCA decides whether a
 *                    client certificate counts as verified for tls_client_auth
 *   clients          client metadata as RFC 7591 spells it, plus "extraClaims": claims added to
 *                    every access token of that client
 *   resourceServers  {indicator: {audience, scope, format: "jwt"|"opaque", ttl, alg}}
 *   scopes           the scopes the provider knows (default: every scope of the clients and
 *                    resource servers)
 *   ttl              {ClientCredentials: seconds} for tokens without a resource server
 *   features         {dPoP, mTLS, introspection, revocation}: false turns one off
 *   delays           {path: milliseconds}: requests to that path are answered this much later
 *
 * Every "*.error" event of the provider (and server_error) goes to stderr with its detail,
 * since clients only see a generic message, and so does one "oidc request" line per request
 * answered, saying how the client authenticated.
 */
import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import { randomBytes } from 'node:crypto';
import process from 'node:process';

import Provider, { errors } from 'oidc-provider';

/* stdout carries the PORT, TLS_PORT and KEYS lines only: oidc-provider's notices go to stderr. */
console.info = console.error;
console.log = console.error;

/* --- a small token store --- */

/*
 * oidc-provider keeps what it issues (opaque tokens, grants) through an adapter. Its built-in
 * one is capped at 1000 entries per model and warns at start; this one is a Map per model that
 * forgets entries once they expire. The Maps outlive a Provider swap.
 */
const stores = new Map();

function storeFor(model) {
  if (!stores.has(model)) {
    stores.set(model, new Map());
  }
  return stores.get(model);
}

function isExpired(entry, now) {
  return entry.expiresAt !== undefined && entry.expiresAt <= now;
}

function sweep(store) {
  const now = Date.now();
  for (const [id, entry] of store) {
    if (isExpired(entry, now)) {
      store.delete(id);
    }
  }
}

class MapAdapter {
  constructor(model) {
    this.store = storeFor(model);
  }

  async upsert(id, payload, expiresIn) {
    if (this.store.size > 0 && this.store.size % 256 === 0) {
      sweep(this.store);
    }
    const expiresAt = expiresIn ? Date.now() + expiresIn * 1000 : undefined;
    this.store.set(id, { payload: structuredClone(payload), expiresAt });
  }

  async find(id) {
    const entry = this.store.get(id);
    if (!entry) {
      return undefined;
    }
    if (isExpired(entry, Date.now())) {
      this.store.delete(id);
      return undefined;
    }
    return structuredClone(entry.payload);
  }

  async findBy(field, value) {
    for (const [id, entry] of this.store) {
      if (entry.payload[field] === value) {
        return this.find(id);
      }
    }
    return undefined;
  }

  async findByUserCode(userCode) {
    return this.findBy('userCode', userCode);
  }

  async findByUid(uid) {
    return this.findBy('uid', uid);
  }

  async consume(id) {
    const entry = this.store.get(id);
    if (entry) {
      entry.payload.consumed = Math.floor(Date.now() / 1000);
    }
  }

  async destroy(id) {
    this.store.delete(id);
  }

  async revokeByGrantId(grantId) {
    for (const store of stores.values()) {
      for (const [id, entry] of store) {
        if (entry.payload.grantId === grantId) {
          store.delete(id);
        }
      }
    }
  }
}

/* --- configuration --- */

function readJson(path) {
  return JSON.parse(readFileSync(path, 'utf8'));
}

/* The key file must hold private keys, each with its own kid: tokens name the key by kid. */
function readKeys(path) {
  const jwks = readJson(path);
  const kids = new Set();
  if (!Array.isArray(jwks.keys) || jwks.keys.length === 0) {
    throw new Error(`${path}: no "keys" list`);
  }
  for (const key of jwks.keys) {
    if (!key.kid || kids.has(key.kid)) {
      throw new Error(`${path}: every key needs a kid of its own (${key.kid ?? 'none'})`);
    }
    if (!key.d) {
      throw new Error(`${path}: key ${key.kid} has no private part`);
    }
    kids.add(key.kid);
  }
  return jwks;
}

function allScopes(cfg) {
  if (cfg.scopes) {
    return cfg.scopes;
  }
  const scopes = new Set(['openid']);
  const add = (text) => (text ?? '').split(' ').filter(Boolean).forEach((s) => scopes.add(s));
  (cfg.clients ?? []).forEach((c) => add(c.scope));
  Object.values(cfg.resourceServers ?? {}).forEach((rs) => add(rs.scope));
  return [...scopes];
}

/* Client metadata without our own "extraClaims", which oidc-provider would not know. */
function splitClients(cfg) {
  const metadata = [];
  const extra = new Map();
  for (const { extraClaims, ...client } of cfg.clients ?? []) {
    metadata.push(client);
    if (extraClaims) {
      extra.set(client.client_id, extraClaims);
    }
  }
  return { metadata, extra };
}

/* --- mutual TLS --- */

function peerCertificate(ctx) {
  const socket = ctx.req.socket;
  if (typeof socket.getPeerX509Certificate !== 'function') {
    return undefined;
  }
  return socket.getPeerX509Certificate();
}

const SAN_PREFIXES = {
  tls_client_auth_san_dns: 'DNS:',
  tls_client_auth_san_uri: 'URI:',
  tls_client_auth_san_email: 'email:',
  tls_client_auth_san_ip: 'IP Address:',
};

/* RFC 8705 section 2.1.2: the registered subject DN or SAN must be the certificate's. */
function subjectMatches(ctx, property, expected) {
  const cert = peerCertificate(ctx);
  if (!cert) {
    return false;
  }
  if (property === 'tls_client_auth_subject_dn') {
    return cert.subject.split('\n').join(',') === expected.replace(/\s*,\s*/g, ',');
  }
  const prefix = SAN_PREFIXES[property];
  const names = (cert.subjectAltName ?? '').split(', ');
  return prefix !== undefined && names.includes(prefix + expected);
}

function mtlsFeature(enabled) {
  return {
    enabled,
    certificateBoundAccessTokens: enabled,
    tlsClientAuth: enabled,
    getCertificate: peerCertificate,
    certificateAuthorized: (ctx) => ctx.req.socket.authorized === true,
    certificateSubjectMatches: subjectMatches,
  };
}

/* --- the provider --- */

function resourceServerInfo(cfg) {
  return async (ctx, indicator) => {
    const rs = cfg.resourceServers?.[indicator];
    if (!rs) {
      throw new errors.InvalidTarget(`unknown resource indicator ${indicator}`);
    }
    return {
      scope: rs.scope ?? '',
      audience: rs.audience ?? indicator,
      accessTokenTTL: rs.ttl ?? 300,
      accessTokenFormat: rs.format ?? 'jwt',
      ...(rs.alg ? { jwt: { sign: { alg: rs.alg } } } : {}),
    };
  };
}

function logErrors(provider) {
  const emit = provider.emit.bind(provider);
  provider.emit = (event, ...args) => {
    if (typeof event === 'string' && (event.endsWith('.error') || event === 'server_error')) {
      const err = args.find((a) => a instanceof Error);
      const detail = err
        ? [err.message, err.error_description, err.error_detail].filter(Boolean).join(': ')
        : '';
      process.stderr.write(`oidc ${event} ${detail}\n`);
    }
    return emit(event, ...args);
  };
}

/*
 * One stderr line per request once it is answered: method, path, status, and how the client
 * authenticated, so that a test can tell client_secret_basic from client_secret_post (oidc-
 * provider itself accepts either for a client registered with one). Secrets are never written.
 */
async function logRequest(ctx, next) {
  try {
    await next();
  } finally {
    let method = 'none';
    if (/^basic /i.test(ctx.headers.authorization ?? '')) {
      method = 'client_secret_basic';
    } else if (ctx.oidc?.body?.client_secret !== undefined) {
      method = 'client_secret_post';
    } else if (peerCertificate(ctx)) {
      method = 'certificate';
    }
    const client = ctx.oidc?.client?.clientId ?? '-';
    process.stderr.write(`oidc request method=${ctx.method} path=${ctx.path} status=${ctx.status} `
      + `client_id=${client} client_auth=${method}\n`);
  }
}

function buildProvider(cfg, issuer, jwks) {
  const features = cfg.features ?? {};
  const mtls = Boolean(cfg.tls) && features.mTLS !== false;
  const { metadata, extra } = splitClients(cfg);
  const authMethods = ['client_secret_basic', 'client_secret_post', 'none'];
  if (mtls) {
    authMethods.push('tls_client_auth');
  }
  const provider = new Provider(issuer, {
    adapter: MapAdapter,
    clients: metadata,
    jwks,
    scopes: allScopes(cfg),
    clientAuthMethods: authMethods,
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: features.introspection !== false },
      revocation: { enabled: features.revocation !== false },
      dPoP: { enabled: features.dPoP !== false },
      mTLS: mtlsFeature(mtls),
      resourceIndicators: {
        enabled: true,
        defaultResource: async () => undefined,
        useGrantedResource: async () => false,
        getResourceServerInfo: resourceServerInfo(cfg),
      },
    },
    extraTokenClaims: async (ctx, token) => extra.get(token.clientId),
    ttl: {
      ClientCredentials: (ctx, token) =>
        token.resourceServer?.accessTokenTTL ?? cfg.ttl?.ClientCredentials ?? 600,
    },
  });
  logErrors(provider);
  provider.use(logRequest);
  return provider;
}

/* --- serving --- */

function listen(server, port) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve(server.address().port);
    });
  });
}

function tlsServer(tls, handler) {
  return https.createServer({
    cert: readFileSync(tls.cert),
    key: readFileSync(tls.key),
    ca: tls.clientCA ? readFileSync(tls.clientCA) : undefined,
    /* Ask for a certificate, verify it against clientCA, and let oidc-provider decide:
     * certificateAuthorized() reads the verdict, tokens bind whatever was presented. */
    requestCert: true,
    rejectUnauthorized: false,
  }, handler);
}

async function main() {
  const configPath = process.argv[2];
  if (!configPath) {
    process.stderr.write('usage: node server.mjs CONFIG.json\n');
    process.exit(2);
  }
  const cfg = readJson(configPath);
  let callback = null;
  /* A slow provider: requests to a path of cfg.delays wait that many milliseconds. */
  const handler = (req, res) => {
    const delay = cfg.delays?.[new URL(req.url, 'http://127.0.0.1').pathname];
    if (delay) {
      setTimeout(() => callback(req, res), delay);
    } else {
      callback(req, res);
    }
  };

  const plain = http.createServer(handler);
  const port = await listen(plain, cfg.port ?? 0);
  const issuer = (cfg.issuer ?? 'http://127.0.0.1:{port}').replace('{port}', String(port));
  callback = buildProvider(cfg, issuer, readKeys(cfg.keyFile)).callback();

  let secure = null;
  let tlsPort = null;
  if (cfg.tls) {
    secure = tlsServer(cfg.tls, handler);
    tlsPort = await listen(secure, cfg.tls.port ?? 0);
  }

  process.on('SIGHUP', () => {
    try {
      const jwks = readKeys(cfg.keyFile);
      callback = buildProvider(cfg, issuer, jwks).callback();
      process.stdout.write(`KEYS ${jwks.keys.map((k) => k.kid).join(' ')}\n`);
    } catch (err) {
      process.stderr.write(`oidc rotation_failed ${err.message}; the previous keys stay\n`);
    }
  });
  const stop = () => {
    plain.close();
    secure?.close();
    plain.closeAllConnections();
    secure?.closeAllConnections();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);

  process.stdout.write(`PORT ${port}\n`);
  if (tlsPort !== null) {
    process.stdout.write(`TLS_PORT ${tlsPort}\n`);
  }
}

main().catch((err) => {
  process.stderr.write(`oidc start_failed ${err.stack ?? err}\n`);
  process.exit(1);
});
