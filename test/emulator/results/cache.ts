import { cacheScopes } from '../runtime-token.js';
import type { CacheEntryState } from '../state.js';
import { TwirpError, type TwirpContext, type TwirpService } from './twirp.js';

/**
 * CacheService v2: entries keyed by (scope, key, version), written once. A lookup tries the
 * token's readable scopes in order (the run's ref, then the default branch); in each, the exact
 * key, then the newest entry whose key starts with the key, then each restore key as a prefix,
 * newest first; the version must match.
 */

const MAX_KEY_LENGTH = 512;

function writeScope(context: TwirpContext): string {
  const scope = cacheScopes(context.claims).find((s) => s.write);
  if (!scope) throw new TwirpError('permission_denied', 'cache write denied: no writable scope');
  return scope.scope;
}

function entries(context: TwirpContext, scope: string): CacheEntryState[] {
  return context.world.state.caches.filter(
    (entry) => entry.repository === context.run.repository && entry.scope === scope,
  );
}

function checkKey(key: unknown): string {
  const text = String(key);
  if (text.length > MAX_KEY_LENGTH) {
    throw new TwirpError('invalid_argument', `key is longer than ${MAX_KEY_LENGTH} characters`);
  }
  if (text.includes(',')) throw new TwirpError('invalid_argument', 'key cannot contain commas');
  return text;
}

export const cacheService: TwirpService = {
  CreateCacheEntry: {
    input: { metadata: 'object', key: 'string', version: 'string' },
    required: ['key', 'version'],
    output: { ok: 'bool', signed_upload_url: 'string', message: 'string' },
    scope: 'none',
    async handle(context) {
      const { world, message } = context;
      const key = checkKey(message.key);
      const version = String(message.version);
      const scope = writeScope(context);
      if (entries(context, scope).some((e) => e.key === key && e.version === version)) {
        throw new TwirpError(
          'already_exists',
          'cache entry with the same key, version, and scope already exists',
        );
      }
      const id = world.state.id();
      const entry: CacheEntryState = {
        id,
        repository: context.run.repository,
        scope,
        key,
        version,
        blob: `${context.run.repository}/${id}/cache`,
        size: 0,
        finalized: false,
        createdAt: world.state.now(),
      };
      world.state.caches.push(entry);
      const url = await world.blobs.signedUrl('caches', entry.blob, { permissions: 'cw' });
      return { ok: true, signed_upload_url: url };
    },
  },

  FinalizeCacheEntryUpload: {
    input: { metadata: 'object', key: 'string', size_bytes: 'int64', version: 'string' },
    required: ['key', 'version'],
    output: { ok: 'bool', entry_id: 'int64', message: 'string' },
    scope: 'none',
    async handle(context) {
      const { world, message } = context;
      const scope = writeScope(context);
      const entry = entries(context, scope).find(
        (e) => !e.finalized && e.key === message.key && e.version === message.version,
      );
      if (!entry)
        throw new TwirpError('not_found', 'no cache entry is being uploaded with this key');
      const blob = await world.blobs.info('caches', entry.blob);
      const size = Number(message.size_bytes ?? 0);
      if (!blob)
        throw new TwirpError('failed_precondition', 'nothing was uploaded to the signed URL');
      if (blob.size !== size) {
        throw new TwirpError(
          'invalid_argument',
          `size_bytes ${size} does not match the ${blob.size} bytes uploaded`,
        );
      }
      entry.size = size;
      entry.finalized = true;
      return { ok: true, entry_id: String(entry.id) };
    },
  },

  GetCacheEntryDownloadURL: {
    input: { metadata: 'object', key: 'string', restore_keys: 'string[]', version: 'string' },
    required: ['key', 'version'],
    output: { ok: 'bool', signed_download_url: 'string', matched_key: 'string' },
    scope: 'none',
    async handle(context) {
      const { message, world } = context;
      const key = checkKey(message.key);
      const restoreKeys = ((message.restore_keys ?? []) as string[]).map(checkKey);
      const scopes = cacheScopes(context.claims).filter((s) => s.read);
      if (scopes.length === 0) {
        throw new TwirpError('permission_denied', 'cache read denied: no readable scope');
      }
      for (const { scope } of scopes) {
        const candidates = entries(context, scope)
          .filter((e) => e.finalized && e.version === message.version)
          .sort((a, b) => b.id - a.id);
        const match =
          candidates.find((e) => e.key === key) ??
          [key, ...restoreKeys]
            .map((prefix) => candidates.find((e) => e.key.startsWith(prefix)))
            .find((e) => e !== undefined);
        if (match) {
          const url = await world.blobs.signedUrl('caches', match.blob, { permissions: 'r' });
          return { ok: true, signed_download_url: url, matched_key: match.key };
        }
      }
      return { ok: false, signed_download_url: '', matched_key: '' };
    },
  },
};
