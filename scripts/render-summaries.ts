/*
 * Renders what a person reads after a run, to look at it: the job summaries of a deploy that
 * succeeded, one that failed and was rolled back, one where the previous release did not come
 * up either, a held lock, a run stopped early, a dry run, and a release body. Each is made by the
 * real code from a made-up fleet, rendered as GitHub-flavoured markdown with GitHub's CSS, and
 * screenshotted with headless Chromium. Not run by CI: `npm run render-summaries [-- <dir>]`.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { marked } from 'marked';
import { ConfigurationError } from '../shared/errors.js';
import { Checklist, stoppedSummary } from '../shared/fleet/checklist.js';
import type { Connection } from '../shared/fleet/connect.js';
import { rollbackHint } from '../shared/fleet/report.js';
import { fleetResult } from '../shared/fleet/result.js';
import { rollout } from '../shared/fleet/rollout.js';
import { dryRunSummary, runSummary, type ReleaseFacts } from '../shared/fleet/summary.js';
import type { HostFailure, HostResult } from '../shared/host/activate.js';
import { silentLog } from '../shared/log.js';
import { changeSummary, chainTo, serializeManifest, type Manifest } from '../shared/manifest.js';
import { parseHost, type Host } from '../shared/names.js';
import { releaseNotes } from '../shared/release/notes.js';

const SHA = '4f1c2a9e7b3d5c8e0f6a1b2c3d4e5f6a7b8c9d0e';
const OLD_SHA = '9b8a7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b';
const DIGEST = 'sha256:3a7bd3e2360a3d29eea436fcfb7e44c735d117c42d1c1835420b6b9942dd4f1b';
/** The digest of release.json: not the bundle's. */
const MANIFEST_DIGEST = 'sha256:c41e0d7a9b2f63e85a1d4c07b9e2f6a3d58c1b40e7a96f2d3c85b1e04a7d9f62';
const HOSTS = ['deploy@web-1.example.com', 'deploy@web-2.example.com', 'deploy@web-3.example.com'];
const WHERE = {
  serverUrl: 'https://github.com',
  owner: 'acme',
  repo: 'shop',
  environment: 'production',
};

function manifest(id: string, sha: string, previous?: Manifest): Manifest {
  const made: Manifest = {
    schemaVersion: 1,
    app: 'shop',
    environment: 'production',
    id,
    created: '2025-06-02T09:14:07Z',
    actor: 'octocat',
    run: { id: 9120, attempt: 1, url: 'https://github.com/acme/shop/actions/runs/9120' },
    build: {
      sha,
      digest: DIGEST,
      size: 18_432_117,
      compression: 'zstd',
      artifact: { id: 77, name: `shop-${sha}.tar.zst` },
    },
    config: {
      vars: {
        PORT: '8080',
        LOG_LEVEL: id === 'v7' ? 'debug' : 'info',
        ADMIN_EMAIL: 'ops@example.com',
      },
      secrets: {
        ciphertext: '-----BEGIN AGE ENCRYPTED FILE-----\n…\n-----END AGE ENCRYPTED FILE-----\n',
        names: ['DATABASE_URL', 'SESSION_KEY'],
        fingerprints: {
          DATABASE_URL: `hmac-sha256:${'a'.repeat(64)}`,
          SESSION_KEY: `hmac-sha256:${'b'.repeat(64)}`,
        },
      },
    },
    previous: previous ? chainTo({ manifest: previous, bytes: serializeManifest(previous) }) : null,
    changes: '',
  };
  made.changes = changeSummary(previous, made);
  return made;
}

const v6 = manifest('v6', OLD_SHA);
const v7 = manifest('v7', SHA, v6);

const facts: ReleaseFacts = {
  app: 'shop',
  environment: 'production',
  releaseId: 'v7',
  releaseUrl: 'https://github.com/acme/shop/releases/tag/shop/production/v7',
  manifest: v7,
  manifestDigest: MANIFEST_DIGEST,
  signer: 'release@acme.example.com',
};

function connection(label: string): Connection {
  const host = parseHost(label) as Host;
  const transport = {
    label: host.label,
    bytesSent: 0,
    exec: () => Promise.reject(new Error('no host here')),
    close: () => Promise.resolve(),
  };
  return { host, transport, reconnect: () => Promise.resolve(transport) };
}

function failure(
  host: string,
  step: HostFailure['step'],
  what: string,
  back: string,
  output: string,
  down?: string,
): HostFailure {
  const problem = {
    subject: `host ${host}`,
    problem: `v7: ${what}; switched back to ${back}${down ? `, which did not come up either: ${down}` : ' and restarted it'}; last output: ${output.split('\n').at(-1)}`,
  };
  return {
    step,
    what,
    problem,
    message: new ConfigurationError(problem).message,
    output,
    ...(down ? { switchBackProblem: down, switchBackOutput: output.replace(/v7/g, 'v6') } : {}),
  };
}

/** What each host's step does in a made-up rollout of v7. */
type Plan = Record<string, { result: HostResult['result']; failure?: HostFailure } | Error>;

async function summaryOf(
  plan: Plan,
  reads: Record<string, string>,
  onFailure: 'rollback' | 'stop' = 'rollback',
) {
  const { outcomes } = await rollout(HOSTS.map(connection), {
    parallel: 1,
    onFailure,
    log: silentLog,
    title: (host) => host,
    stage: (c, onPhase) => {
      const step = plan[c.host.label];
      if (!step) return Promise.reject(new Error('not planned'));
      if (step instanceof Error) return Promise.reject(step);
      const current = step.result === 'activated' ? 'v7' : 'v6';
      return Promise.resolve({
        label: c.host.label,
        releaseId: 'v7',
        current: 'v6',
        wasCurrent: false,
        runCommand: () => Promise.reject(new Error('no release command here')),
        abandon: () => Promise.resolve(),
        activate: () => {
          onPhase('switch');
          return Promise.resolve(result(c.host.label, 'v7', step.result, current, step.failure));
        },
      });
    },
    putBack: (c, to) => Promise.resolve(result(c.host.label, to, 'rolled-back', to)),
    current: (c) => Promise.resolve(reads[c.host.label]),
  });
  const fleet = fleetResult(outcomes, { releaseId: 'v7', rollback: false });
  return runSummary({
    ...facts,
    rollback: false,
    fleet,
    outcomes,
    hint: rollbackHint(WHERE, fleet, 'v7'),
    deploymentId: fleet.changed ? 1_845_002_113 : undefined,
    url: 'https://shop.example.com',
  });
}

function result(
  host: string,
  id: string,
  kind: HostResult['result'],
  current: string,
  failure?: HostFailure,
): HostResult {
  return {
    host,
    releaseId: id,
    result: kind,
    previousId: kind === 'rolled-back' ? 'v7' : 'v6',
    currentId: current,
    skippedUpload: kind === 'rolled-back',
    bytesSent: kind === 'rolled-back' ? 0 : 6_120_448,
    pruned: kind === 'activated' ? ['v2'] : [],
    seconds: kind === 'rolled-back' ? 1.4 : 8.7,
    ...(failure ? { failure } : {}),
  };
}

const healthOutput = 'curl: (7) Failed to connect to 127.0.0.1 port 8080: Connection refused';
const restartOutput =
  'Job for shop.service failed because the control process exited with error code.\nSee "systemctl status shop.service" and "journalctl -xeu shop.service" for details.';

async function summaries(): Promise<Record<string, string>> {
  const [a, b, c] = HOSTS as [string, string, string];
  const activated = { result: 'activated' as const };
  const held = new ConfigurationError({
    subject: `host ${a}`,
    problem:
      'deploy lock held by octocat (run 9119) on runner-7 (pid 2211) since 2025-06-02T09:12:51Z (https://github.com/acme/shop/actions/runs/9119)',
    hint: 'set lock-timeout to wait for it',
  });
  const checklist = new Checklist();
  checklist.pass(
    'the inputs: 3 hosts with their keys, the deploy root `/srv/shop/production`, 1 allowed signer',
  );
  checklist.pass(
    'release v7 found in the ledger: [shop/production/v7](https://github.com/acme/shop/releases/tag/shop/production/v7)',
  );
  return {
    success: await summaryOf({ [a]: activated, [b]: activated, [c]: activated }, {}),
    'failure-rolled-back': await summaryOf(
      {
        [a]: activated,
        [b]: {
          result: 'failed-rolled-back',
          failure: failure(
            b,
            'health-check',
            'health check failed for 60 s (31 attempts)',
            'v6',
            healthOutput,
          ),
        },
      },
      { [c]: 'v6' },
    ),
    'failure-previous-down': await summaryOf(
      {
        [a]: {
          result: 'failed-rolled-back',
          failure: failure(
            a,
            'restart',
            'restart failed',
            'v6',
            restartOutput,
            `restarting v6 failed too: ${restartOutput.split('\n')[0]}`,
          ),
        },
      },
      { [b]: 'v6', [c]: 'v6' },
      'stop',
    ),
    'held-lock': await summaryOf({ [a]: held }, { [a]: 'v6', [b]: 'v6', [c]: 'v6' }),
    'stopped-early': stoppedSummary({
      title: 'Deploy shop production v7',
      error: new ConfigurationError({
        subject: 'release shop/production/v7',
        problem:
          'is not trusted: release.json.sig: the signing key ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIM… is not in allowed-signers',
      }),
      checklist,
    }),
    'dry-run': dryRunSummary({
      ...facts,
      hosts: HOSTS.map((host, i) => ({
        host,
        releaseId: 'v7',
        current: i === 2 ? undefined : 'v6',
        previous: 'v5',
        wasCurrent: false,
        upload: i === 1 ? 'skip' : 'upload',
        prune: i === 0 ? ['v2'] : [],
        lock: undefined,
        problems: i === 2 ? ['tar is not installed or not on the PATH'] : [],
      })),
    }),
    'release-body': releaseNotes({
      tag: 'shop/production/v7',
      manifest: v7,
      previous: v6,
      digest: MANIFEST_DIGEST,
      links: {
        repository: 'acme/shop',
        repositoryUrl: 'https://github.com/acme/shop',
        runAction: 'acme/build-release-run/run-action@v1',
        docs: 'https://github.com/acme/build-release-run/blob/v1/docs/',
      },
    }),
  };
}

async function page(name: string, markdown: string): Promise<string> {
  const css = await readFile(
    createRequire(import.meta.url).resolve('github-markdown-css/github-markdown-light.css'),
    'utf8',
  );
  const body = await marked.parse(markdown, { gfm: true });
  return `<!doctype html><html><head><meta charset="utf-8"><title>${name}</title><style>${css}
body { margin: 0; background: #fff; } .markdown-body { box-sizing: border-box; max-width: 1012px; margin: 0 auto; padding: 32px; }</style></head>
<body><article class="markdown-body">${body}</article></body></html>`;
}

function screenshot(html: string, png: string): void {
  const profile = path.join(path.dirname(png), `.chromium-${path.basename(png, '.png')}`);
  execFileSync(
    'chromium',
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--hide-scrollbars',
      `--user-data-dir=${profile}`,
      `--screenshot=${png}`,
      '--window-size=1100,1500',
      `file://${html}`,
    ],
    { stdio: 'ignore' },
  );
}

async function main(): Promise<void> {
  const out = path.resolve(
    process.argv[2] ?? (await mkdtemp(path.join(tmpdir(), 'brr-summaries-'))),
  );
  await mkdir(out, { recursive: true });
  for (const [name, markdown] of Object.entries(await summaries())) {
    await writeFile(path.join(out, `${name}.md`), markdown);
    const html = path.join(out, `${name}.html`);
    await writeFile(html, await page(name, markdown));
    screenshot(html, path.join(out, `${name}.png`));
    await rm(path.join(out, `.chromium-${name}`), { recursive: true, force: true });
    console.log(path.join(out, `${name}.png`));
  }
}

await main();
