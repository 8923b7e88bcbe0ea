// Who is asking. Job routes take an API key (`Authorization: Bearer <key>` or `X-API-Key`), required
// when REQUIRE_API_KEY is set; a job belongs to the key that made it. Operator routes take
// ADMIN_TOKEN when one is set. Failures are 401 problem+json with WWW-Authenticate (RFC 6750).
import type { Request, RequestHandler } from 'express';
import { secretsEqual, verifyApiKey } from '../shared/apiKeys.js';
import type { ApiDeps } from './deps.js';
import { HttpProblem } from './problem.js';

export interface Client {
  /** The key's id, recorded on its jobs; undefined for requests without a key. */
  owner: string | undefined;
  keyName?: string;
}

const clients = new WeakMap<Request, Client>();

/** The client the auth middleware found (anonymous when it did not run). */
export const clientOf = (req: Request): Client => clients.get(req) ?? { owner: undefined };

/**
 * The key sent, if any: a Bearer token, else X-API-Key. Other Authorization schemes (a proxy's Basic
 * auth passed through) are not a key: the request counts as sent without one.
 */
export function presentedKey(req: Request): string | undefined {
  const bearer = /^Bearer[ ]+(\S*)\s*$/i.exec(req.get('authorization') ?? '');
  if (bearer) return bearer[1];
  return req.get('x-api-key')?.trim() || undefined;
}

const unauthorized = (realm: string, detail: string, invalid: boolean) =>
  new HttpProblem(401, 'unauthorized', 'Unauthorized', detail, {
    headers: {
      'WWW-Authenticate': `Bearer realm="${realm}"${invalid ? ', error="invalid_token"' : ''}`,
      'Cache-Control': 'no-store',
    },
  });

/** Job routes: finds the key's owner; 401 for a wrong key, or for none when keys are required. */
export function clientAuth(deps: Pick<ApiDeps, 'config' | 'redis' | 'keys'>): RequestHandler {
  return async (req, _res, next) => {
    const key = presentedKey(req);
    if (key === undefined) {
      if (deps.config.REQUIRE_API_KEY) {
        throw unauthorized(
          'turdify',
          'this server needs an API key: send "Authorization: Bearer <key>" (or "X-API-Key: <key>")',
          false,
        );
      }
      clients.set(req, { owner: undefined });
      return next();
    }
    const info = key ? await verifyApiKey(deps.redis, deps.keys, key) : undefined;
    if (!info) {
      throw unauthorized('turdify', 'the API key is not valid (unknown or revoked)', true);
    }
    clients.set(req, { owner: info.id, keyName: info.name });
    req.log?.setBindings?.({ apiKey: info.name });
    next();
  };
}

/**
 * Operator routes: ADMIN_TOKEN as a Bearer token when one is set; open otherwise. `basic`: HTTP
 * Basic too, with the token as the password (any user name), so a browser can open the page and
 * asks for it (the Basic challenge comes first: browsers prompt for the first scheme they know).
 */
export function adminAuth(config: ApiDeps['config'], opts: { basic?: boolean } = {}): RequestHandler {
  return (req, _res, next) => {
    if (!isAdmin(config, req) && !(opts.basic && isAdminBasic(config, req))) {
      const sent = req.get('authorization') !== undefined;
      const how = opts.basic
        ? 'HTTP Basic with it as the password, or "Authorization: Bearer <ADMIN_TOKEN>"'
        : '"Authorization: Bearer <ADMIN_TOKEN>"';
      const problem = unauthorized(
        'turdify-admin',
        sent ? 'the admin token is not valid' : `this route needs the admin token: ${how}`,
        sent,
      );
      if (opts.basic) {
        problem.headers['WWW-Authenticate'] =
          `Basic realm="turdify-admin", charset="UTF-8", ${problem.headers['WWW-Authenticate']}`;
      }
      throw problem;
    }
    next();
  };
}

/** True when the request carries ADMIN_TOKEN as the password of HTTP Basic credentials. */
function isAdminBasic(config: ApiDeps['config'], req: Request): boolean {
  if (!config.ADMIN_TOKEN) return true;
  const m = /^Basic[ ]+([A-Za-z0-9+/=]+)\s*$/i.exec(req.get('authorization') ?? '');
  if (!m) return false;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon >= 0 && secretsEqual(decoded.slice(colon + 1), config.ADMIN_TOKEN);
}

/** True when no ADMIN_TOKEN is set, or the request carries it. */
export function isAdmin(config: ApiDeps['config'], req: Request): boolean {
  if (!config.ADMIN_TOKEN) return true;
  const m = /^Bearer[ ]+(\S+)\s*$/i.exec(req.get('authorization') ?? '');
  return m !== null && secretsEqual(m[1]!, config.ADMIN_TOKEN);
}
