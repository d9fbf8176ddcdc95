import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recipientOf } from '../helpers/keys.js';
import { digestOf, serializeManifest, type Manifest } from '../../shared/manifest.js';
import {
  decryptSecrets,
  encryptSecrets,
  parseRecipients,
  secretFingerprints,
} from '../../shared/secrets.js';
import {
  parseAllowedSigners,
  parseSigningKey,
  signMessage,
  verifyMessage,
  type SigningKey,
} from '../../shared/signature.js';
import {
  PAGES,
  ROOT,
  SECTIONS,
  checkPages,
  readActionYml,
  renderPage,
  sectionText,
} from '../../scripts/docs.js';
import { connect } from '../hosts/fixtures.js';
import { startHost, type TestHost } from '../hosts/sshd.js';

const exec = promisify(execFile);

describe('generated reference tables', () => {
  it('match every action.yml', async () => {
    const results = await checkPages();
    expect(results.map((result) => result.page)).toEqual(PAGES.map((page) => page.page));
    for (const result of results) expect(result.stale, result.page).toEqual([]);
  });

  it('list every input and output of each action, in order', async () => {
    for (const { page, action } of PAGES) {
      const text = await readFile(path.join(ROOT, page), 'utf8');
      const yml = await readActionYml(path.join(ROOT, action));
      const names = (section: 'inputs' | 'outputs') =>
        [...(sectionText(text, section) ?? '').matchAll(/^\| `([^`]+)` +\|/gm)].map((m) => m[1]);
      expect(names('inputs'), page).toEqual(Object.keys(yml.inputs));
      expect(names('outputs'), page).toEqual(Object.keys(yml.outputs));
    }
  });

  describe('when an action.yml changes', () => {
    let root: string;
    beforeAll(async () => {
      root = await mkdtemp(path.join(tmpdir(), 'brr-docs-'));
      await cp(path.join(ROOT, 'docs'), path.join(root, 'docs'), { recursive: true });
      for (const { action } of PAGES) {
        await mkdir(path.dirname(path.join(root, action)), { recursive: true });
        await cp(path.join(ROOT, action), path.join(root, action));
      }
    });
    afterAll(() => rm(root, { recursive: true, force: true }));

    it('the check fails, and regenerating fixes the table and keeps the prose', async () => {
      const file = path.join(root, 'run-action/action.yml');
      const yml = await readFile(file, 'utf8');
      await writeFile(
        file,
        yml
          .replace("'Hosts deployed at once.'", "'Hosts deployed at once, at most 256.'")
          .replace(
            'outputs:\n',
            "outputs:\n  duration:\n    description: 'Seconds the deploy took.'\n",
          ),
      );
      const [, , run] = await checkPages(root);
      expect(run?.page).toBe('docs/run-action.md');
      expect(run?.stale).toEqual(['inputs', 'outputs']);

      await writeFile(path.join(root, 'docs/run-action.md'), run!.expected);
      const [, , fixed] = await checkPages(root);
      expect(fixed?.stale).toEqual([]);
      expect(run!.expected).toContain('Hosts deployed at once, at most 256.');
      expect(run!.expected).toMatch(/^\| `duration` +\| Seconds the deploy took\. +\|$/m);
      const prose = (text: string) => text.slice(0, text.indexOf('## Inputs'));
      expect(prose(run!.expected)).toBe(prose(run!.current));
    });
  });

  it('a page without its markers is an error naming the page and the marker', async () => {
    const action = await readActionYml(path.join(ROOT, 'build-action/action.yml'));
    await expect(renderPage('docs/new.md', '# New\n', action)).rejects.toThrow(
      'docs/new.md: expected the markers <!-- BEGIN GENERATED inputs',
    );
  });

  it('markup in a description is escaped, not rendered', async () => {
    const action = await readActionYml(path.join(ROOT, 'run-action/action.yml'));
    action.inputs.path = { description: 'Deploy root. Default: /srv/<app>/<environment> | *' };
    const page = PAGES.find((p) => p.action === 'run-action/action.yml')!.page;
    const text = await renderPage(page, await readFile(path.join(ROOT, page), 'utf8'), action);
    expect(sectionText(text, SECTIONS[0])).toContain(
      'Deploy root. Default: /srv/\\<app>/\\<environment> \\| \\*',
    );
  });
});

interface Block {
  lang: string;
  code: string;
}

function codeBlocks(markdown: string): Block[] {
  return [...markdown.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map((m) => ({
    lang: m[1]!,
    code: m[2]!,
  }));
}

/** The shell blocks of a page that run here: all but those with a command that talks to GitHub through gh. */
async function localShellBlocks(page: string): Promise<{ run: string[]; gh: string[] }> {
  const blocks = codeBlocks(await readFile(path.join(ROOT, 'docs', page), 'utf8')).filter(
    (block) => block.lang === 'sh',
  );
  const usesGh = (code: string) => /^gh /m.test(code);
  return {
    run: blocks.filter((b) => !usesGh(b.code)).map((b) => b.code),
    gh: blocks.filter((b) => usesGh(b.code)).map((b) => b.code),
  };
}

async function sh(code: string, cwd: string): Promise<string> {
  const { stdout, stderr } = await exec('bash', ['-euo', 'pipefail', '-c', code], { cwd });
  return `${stdout}${stderr}`;
}

describe('the documented commands, run as written', () => {
  let dir: string;
  let signingKey: SigningKey;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'brr-keys-'));
    const { run, gh } = await localShellBlocks('keys.md');
    const ghCommands = gh.flatMap((code) => code.split('\n').filter((l) => l.startsWith('gh ')));
    expect(ghCommands.filter((l) => !/^gh (secret set|variable set|api) /.test(l))).toEqual([]);
    expect(run).toHaveLength(3);
    for (const code of run) await sh(code, dir);
    signingKey = parseSigningKey(await readFile(path.join(dir, 'release_signing'), 'utf8'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('keys.md makes keys that release-action and run-action accept', async () => {
    const allowed = await readFile(path.join(dir, 'allowed_signers'), 'utf8');
    expect(allowed).toMatch(
      /^release@acme namespaces="build-release-run" ssh-ed25519 AAAA\S+ release-signing\n$/,
    );
    const message = new TextEncoder().encode('{"id":"v1"}');
    expect(
      verifyMessage(message, signMessage(message, signingKey), parseAllowedSigners(allowed)),
    ).toMatchObject({ principal: 'release@acme' });

    const identity = await readFile(path.join(dir, 'identity.txt'), 'utf8');
    const recipients = (await readFile(path.join(dir, 'recipients.txt'), 'utf8')).split('\n');
    expect(parseRecipients(recipients.filter((line) => line !== ''))).toEqual([
      recipientOf(identity),
    ]);
    const deployKey = await readFile(path.join(dir, 'deploy_key'), 'utf8');
    expect(deployKey).toMatch(/^-----BEGIN OPENSSH PRIVATE KEY-----\n/);
  });

  describe('verify-by-hand.md on a release made with those keys', () => {
    const sha = '1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d';
    const secrets = { API_KEY: 'it\'s "quoted"', DB_URL: 'postgres://shop:pw@db/shop' };
    let blocks: { run: string[]; gh: string[] };
    let manifestBytes: Uint8Array;

    beforeAll(async () => {
      blocks = await localShellBlocks('verify-by-hand.md');
      await mkdir(path.join(dir, 'app'));
      await writeFile(path.join(dir, 'app', 'server.mjs'), 'console.log("hi")\n');
      await exec('tar', ['--zstd', '-cf', `shop-${sha}.tar.zst`, '-C', 'app', '.'], { cwd: dir });
      const bundle = await readFile(path.join(dir, `shop-${sha}.tar.zst`));

      const recipients = (await readFile(path.join(dir, 'recipients.txt'), 'utf8')).trim();
      const manifest = (id: string, previous: Manifest['previous']): Manifest => ({
        schemaVersion: 1,
        app: 'shop',
        environment: 'production',
        id,
        created: '2025-03-01T12:00:00Z',
        actor: 'octocat',
        run: { id: 1234, attempt: 1, url: 'https://github.com/acme/shop/actions/runs/1234' },
        build: {
          sha,
          digest: digestOf(bundle),
          size: bundle.length,
          compression: 'zstd',
          artifact: { id: 99, name: `shop-${sha}.tar.zst` },
        },
        config: { vars: { PORT: '8080' }, secrets: null },
        previous,
        changes: 'Deploy 1a2b3c4',
      });
      const previousBytes = serializeManifest(manifest('v6', null));
      await writeFile(path.join(dir, 'previous.json'), previousBytes);
      manifestBytes = serializeManifest({
        ...manifest('v7', { id: 'v6', digest: digestOf(previousBytes) }),
        config: {
          vars: { PORT: '8080' },
          secrets: {
            names: Object.keys(secrets).sort(),
            fingerprints: secretFingerprints(secrets, signingKey),
            ciphertext: await encryptSecrets(secrets, [recipients]),
          },
        },
      });
      await writeFile(path.join(dir, 'release.json'), manifestBytes);
      await writeFile(path.join(dir, 'release.json.sig'), signMessage(manifestBytes, signingKey));
    });

    it('every step passes: signature, bundle digest, chain, secrets', async () => {
      expect(blocks.gh).toHaveLength(2);
      const [signature, bundle, previousId, chain, decrypt] = blocks.run;
      expect(blocks.run).toHaveLength(5);
      expect(await sh(signature!, dir)).toMatch(
        /^release@acme\nGood "build-release-run" signature for release@acme with ED25519 key SHA256:/,
      );
      expect(await sh(bundle!, dir)).toContain(`shop-${sha}.tar.zst: OK`);
      expect((await sh(previousId!, dir)).trim()).toBe('v6');
      expect((await sh(chain!, dir)).trim()).toBe('previous.json: OK');
      const plaintext = await sh(decrypt!, dir);
      expect(JSON.parse(plaintext)).toEqual(secrets);
      const ciphertext = (JSON.parse(new TextDecoder().decode(manifestBytes)) as Manifest).config
        .secrets!.ciphertext;
      expect(
        await decryptSecrets(ciphertext, await readFile(path.join(dir, 'identity.txt'), 'utf8')),
      ).toEqual(secrets);
    });

    it('a changed release.json or bundle fails its step', async () => {
      const [signature, bundle] = blocks.run;
      const tampered = new TextDecoder()
        .decode(manifestBytes)
        .replace('"PORT":"8080"', '"PORT":"8081"');
      await writeFile(path.join(dir, 'release.json'), tampered);
      await expect(sh(signature!, dir)).rejects.toThrow(/Signature verification failed/);
      await writeFile(path.join(dir, 'release.json'), manifestBytes);

      await writeFile(path.join(dir, `shop-${sha}.tar.zst`), 'not the bundle');
      await expect(sh(bundle!, dir)).rejects.toThrow(/computed checksum did NOT match/);
    });
  });
});

describe('host-setup.md on a real SSH host', () => {
  let host: TestHost;
  let dir: string;
  beforeAll(async () => {
    host = await startHost();
    dir = await mkdtemp(path.join(tmpdir(), 'brr-known-'));
  });
  afterAll(async () => {
    await host?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('known_hosts from ssh-keyscan, checked by fingerprint, lets run-action connect', async () => {
    const { stdout } = await exec('ssh-keyscan', [
      '-t',
      'ed25519',
      '-p',
      String(host.port),
      '127.0.0.1',
    ]);
    await writeFile(path.join(dir, 'known_hosts'), stdout);
    const scanned = await exec('ssh-keygen', ['-lf', path.join(dir, 'known_hosts')]);
    const onHost = await exec('ssh-keygen', ['-lf', path.join(host.dir, 'host_key.pub')]);
    const fingerprint = (text: string) => /SHA256:\S+/.exec(text)?.[0];
    expect(fingerprint(scanned.stdout)).toBe(fingerprint(onHost.stdout));
    expect(stdout).toMatch(/^\[127\.0\.0\.1\]:\d+ ssh-ed25519 AAAA/m);

    // The authorized_keys line as host-setup.md writes it: restrict, then the public key.
    const publicKey = await readFile(path.join(host.dir, 'client_key.pub'), 'utf8');
    await writeFile(path.join(host.dir, 'authorized_keys'), `restrict ${publicKey}`);
    const transport = await connect(host, { knownHosts: stdout });
    try {
      const result = await transport.exec('echo "$(id -un) can deploy"');
      expect(result.code).toBe(0);
      expect(result.stdout.toString()).toBe(`${host.user} can deploy\n`);
    } finally {
      await transport.close();
    }
  });
});
