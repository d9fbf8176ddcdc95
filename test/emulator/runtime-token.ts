import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * ACTIONS_RUNTIME_TOKEN: a JWT whose `scp` claim names the run and job
 * (`Actions.Results:<runBackendId>:<jobBackendId>`) and whose `ac` claim lists the cache scopes
 * (`[{"Scope":"refs/heads/main","Permission":3}]`, 1 = read, 2 = write), as the runner's token
 * does. The clients only decode it; the emulator signs it (HS256) and checks it.
 */

export interface RuntimeClaims {
  scp: string;
  ac: string;
  iat: number;
  nbf: number;
  exp: number;
  iss: string;
  aud: string;
}

export interface CacheScope {
  scope: string;
  read: boolean;
  write: boolean;
}

function encode(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

export function mintRuntimeToken(
  key: Buffer,
  ids: { runBackendId: string; jobBackendId: string },
  cacheScopes: { scope: string; permission: number }[],
): string {
  const now = Math.floor(Date.now() / 1000);
  const claims: RuntimeClaims = {
    scp: `Actions.ExampleScope Actions.Results:${ids.runBackendId}:${ids.jobBackendId}`,
    ac: JSON.stringify(cacheScopes.map((s) => ({ Scope: s.scope, Permission: s.permission }))),
    iat: now,
    nbf: now - 60,
    exp: now + 6 * 3600,
    iss: 'vstoken.actions.githubusercontent.com',
    aud: 'vso:emulator',
  };
  const unsigned = `${encode({ typ: 'JWT', alg: 'HS256' })}.${encode(claims)}`;
  return `${unsigned}.${createHmac('sha256', key).update(unsigned).digest('base64url')}`;
}

/** The claims of a token this emulator signed and that has not expired; otherwise a reason. */
export function verifyRuntimeToken(key: Buffer, token: string): RuntimeClaims | string {
  const [header, payload, signature] = token.split('.');
  if (!header || !payload || !signature) return 'the runtime token is not a JWT';
  const expected = createHmac('sha256', key).update(`${header}.${payload}`).digest();
  const given = Buffer.from(signature, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return 'the runtime token signature is invalid';
  }
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as RuntimeClaims;
  const now = Math.floor(Date.now() / 1000);
  if (claims.exp <= now || claims.nbf > now) return 'the runtime token has expired';
  return claims;
}

export function resultsScope(
  claims: RuntimeClaims,
): { runBackendId: string; jobBackendId: string } | undefined {
  for (const scope of claims.scp.split(' ')) {
    const [name, run, job] = scope.split(':');
    if (name === 'Actions.Results' && run && job) return { runBackendId: run, jobBackendId: job };
  }
  return undefined;
}

export function cacheScopes(claims: RuntimeClaims): CacheScope[] {
  const entries = JSON.parse(claims.ac || '[]') as { Scope: string; Permission: number }[];
  return entries.map((entry) => ({
    scope: entry.Scope,
    read: (entry.Permission & 1) !== 0,
    write: (entry.Permission & 2) !== 0,
  }));
}
