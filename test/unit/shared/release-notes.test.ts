import { execFileSync } from 'node:child_process';
import { copyFile, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { actionUses, docUrl } from '../../../shared/context.js';
import {
  changeSummary,
  chainTo,
  serializeManifest,
  type Manifest,
} from '../../../shared/manifest.js';
import { BODY_LIMIT, releaseNotes, type ReleaseLinks } from '../../../shared/release/notes.js';
import { parseSigningKey, signMessage } from '../../../shared/signature.js';
import { sshKey } from '../../helpers/keys.js';

const SHA = 'c'.repeat(40);
const OTHER_SHA = 'e'.repeat(40);
const DIGEST = `sha256:${'d'.repeat(64)}`;
const LINKS: ReleaseLinks = {
  repository: 'acme/shop',
  repositoryUrl: 'https://github.com/acme/shop',
  runAction: 'acme/build-release-run/run-action@v1',
  docs: 'https://github.com/acme/build-release-run/blob/v1/docs/',
};

/** The body of `made`, chained to `previous`. */
function notes(made: Manifest, previous: Manifest | undefined): string {
  return releaseNotes({
    tag: `shop/production/${made.id}`,
    manifest: made,
    previous,
    digest: DIGEST,
    links: LINKS,
  });
}

function manifest(
  id: string,
  vars: Record<string, string>,
  previous?: Manifest,
  sha = SHA,
): Manifest {
  const made: Manifest = {
    schemaVersion: 1,
    app: 'shop',
    environment: 'production',
    id,
    created: '2025-01-01T00:00:00Z',
    actor: 'octocat',
    run: { id: 1, attempt: 1, url: 'https://github.com/acme/shop/actions/runs/1' },
    build: {
      sha,
      digest: DIGEST,
      size: 1024,
      compression: 'zstd',
      artifact: { id: 1, name: `shop-${sha}.tar.zst` },
    },
    config: { vars, secrets: null },
    previous: previous ? chainTo({ manifest: previous, bytes: serializeManifest(previous) }) : null,
    changes: '',
  };
  made.changes = changeSummary(previous, made);
  return made;
}

describe('the release body', () => {
  it('names the build’s commit (the tag points elsewhere) and shows changed values', () => {
    const v1 = manifest('v1', { PORT: '8080' });
    const v2 = manifest('v2', { PORT: '9090' }, v1);
    const body = notes(v2, v1);
    expect(body).toContain(`\`${SHA}\``);
    expect(body).toContain('~ PORT "8080" -> "9090"');
  });

  it('stays within GitHub’s 125,000 characters, summarising and pointing at release.json', () => {
    const big = (n: number) =>
      Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [`KEY_${i}`, `${n}`.repeat(60)]));
    const v1 = manifest('v1', big(1));
    const v2 = manifest('v2', big(2), v1);
    const body = notes(v2, v1);
    expect(body.length).toBeLessThanOrEqual(BODY_LIMIT);
    expect(BODY_LIMIT).toBeLessThan(125_000);
    expect(body).toContain('Too long to show here: the values are in release.json.');
    expect(body).toContain('and 2950 more');
    expect(body).toContain(`\`${SHA}\``);
    expect(body).toContain('release-id: v2');
  });

  it('links the build’s commit and what changed in the code since the previous release', () => {
    const v1 = manifest('v1', { PORT: '8080' });
    const v2 = manifest('v2', { PORT: '8080' }, v1, OTHER_SHA);
    const body = notes(v2, v1);
    expect(body).toContain(
      `| Build | [\`${OTHER_SHA}\`](https://github.com/acme/shop/commit/${OTHER_SHA}) · `,
    );
    expect(body).toContain(
      `| Code | [ccccccc...eeeeeee](https://github.com/acme/shop/compare/${SHA}...${OTHER_SHA}): what changed since v1's build |`,
    );
    const v3 = manifest('v3', { PORT: '9090' }, v2, OTHER_SHA);
    const same = notes(v3, v2);
    expect(same).toContain('| Code | the same build as v2: only the config changed |');
  });

  it('deploys and rolls back with commands that run as written, naming every input the step needs', () => {
    const v1 = manifest('v1', { PORT: '8080' });
    const v2 = manifest('v2', { PORT: '9090' }, v1);
    const body = notes(v2, v1);
    expect(body).toContain(
      'gh workflow run rollback.yml --repo acme/shop -f environment=production -f release-id=v2\n',
    );
    expect(body).toContain(
      'gh workflow run rollback.yml --repo acme/shop -f environment=production -f release-id=v1\n',
    );
    expect(body).toContain(
      [
        '- uses: acme/build-release-run/run-action@v1',
        '  with:',
        '    environment: production',
        '    release-id: v2',
        '    hosts: ${{ vars.DEPLOY_HOSTS }}',
        '    ssh-key: ${{ secrets.DEPLOY_SSH_KEY }}',
        '    known-hosts: ${{ vars.DEPLOY_KNOWN_HOSTS }}',
        '    allowed-signers: ${{ vars.RELEASE_ALLOWED_SIGNERS }}',
        '```',
      ].join('\n'),
    );
    expect(body).not.toMatch(/<[a-z]+>/);
  });

  it('checks the signature by hand with the real principal, found by ssh-keygen itself', async () => {
    const key = await sshKey('ed25519', 'release@acme');
    const v1 = manifest('v1', { PORT: '8080' });
    const bytes = serializeManifest(v1);
    const body = notes(v1, undefined);
    expect(body).toContain(
      `([the bundle, the chain and the secrets too](${LINKS.docs}verify-by-hand.md))`,
    );
    const block = /```sh\n(gh release download [^]*?)\n```/.exec(body)?.[1]?.split('\n') ?? [];
    expect(block[0]).toBe(
      "gh release download shop/production/v1 --repo acme/shop --pattern 'release.json*'",
    );
    expect(block[1]).toBe(
      'gh variable get RELEASE_ALLOWED_SIGNERS --env production --repo acme/shop > allowed_signers',
    );
    // The rest, run as written where the first two lines put their files.
    const dir = await mkdtemp(path.join(tmpdir(), 'brr-by-hand-'));
    await writeFile(path.join(dir, 'release.json'), bytes);
    await writeFile(
      path.join(dir, 'release.json.sig'),
      signMessage(bytes, parseSigningKey(key.privateKey)),
    );
    await copyFile(key.allowedSignersFile, path.join(dir, 'allowed_signers'));
    const out = execFileSync('sh', ['-c', block.slice(2).join('\n')], {
      cwd: dir,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    expect(out).toMatch(
      /^Good "build-release-run" signature for release@acme with ED25519 key SHA256:/,
    );
  });
});

describe('links to the action that runs', () => {
  const where = { serverUrl: 'https://github.com', owner: 'acme', repo: 'shop', sha: SHA };
  it('name it as the workflow did, from GITHUB_ACTION_REPOSITORY and GITHUB_ACTION_REF', () => {
    const from = { ...where, actionRepository: 'acme/build-release-run', actionRef: 'v1' };
    expect(actionUses(from, 'run-action')).toBe('acme/build-release-run/run-action@v1');
    expect(docUrl(from, 'verify-by-hand.md')).toBe(
      'https://github.com/acme/build-release-run/blob/v1/docs/verify-by-hand.md',
    );
  });

  it('fall back to the workflow’s own repository for an action used by path', () => {
    const local = { ...where, actionRepository: undefined, actionRef: undefined };
    expect(actionUses(local, 'run-action')).toBe('./run-action');
    expect(docUrl(local, 'verify-by-hand.md')).toBe(
      `https://github.com/acme/shop/blob/${SHA}/docs/verify-by-hand.md`,
    );
  });
});
