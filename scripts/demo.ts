// The local demo: build → release → run → config change → rollback, against the local GitHub
// emulator and this machine as the target host. Everything it starts, it stops.
import { execFileSync } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startGitHub, type GitHubEmulator } from '../test/emulator/index.js';
import { ROOT, runAction, type ActionName, type ActionRun } from '../test/helpers/action.js';
import { freePort } from '../test/hosts/fixtures.js';

const bold = (text: string) => (process.stdout.isTTY ? `\x1b[1m${text}\x1b[0m` : text);
const dim = (text: string) => (process.stdout.isTTY ? `\x1b[2m${text}\x1b[0m` : text);

function say(text: string): void {
  console.log(text);
}

function chapter(title: string): void {
  console.log(`\n${bold(title)}`);
}

async function step(
  github: GitHubEmulator,
  action: ActionName,
  inputs: Record<string, string>,
  options: { workspace: string; env: Record<string, string> },
): Promise<ActionRun> {
  const run = await runAction({ action, inputs, workspace: options.workspace, env: options.env });
  if (run.code !== 0) {
    console.error(run.log);
    throw new Error(`${action} failed: ${run.errors.join('; ') || `exit code ${run.code}`}`);
  }
  const violations = github.violations();
  if (violations.length) {
    throw new Error(
      `the emulator saw requests GitHub would refuse: ${JSON.stringify(violations[0])}`,
    );
  }
  return run;
}

async function ask(port: number): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${port}/`);
  return (await response.text()).trim();
}

async function main(): Promise<void> {
  const scratch = await mkdtemp(path.join(tmpdir(), 'brr-demo-'));
  const github = await startGitHub();
  const deployRoot = path.join(scratch, 'host', 'srv', 'shop', 'production');
  let appStarted = false;
  try {
    say(bold('build-release-run: a local demo'));
    say(
      dim(
        `A local GitHub (REST API, artifacts, cache, blob storage) runs at ${github.apiUrl}; the target host is this machine, deploy root ${deployRoot}.`,
      ),
    );
    github.createRepository('acme/shop');
    const workspace = path.join(scratch, 'workspace');
    await cp(path.join(ROOT, 'examples/app'), workspace, { recursive: true });
    const keys = path.join(scratch, 'keys');
    await mkdir(keys);
    execFileSync('ssh-keygen', [
      '-q',
      '-t',
      'ed25519',
      '-N',
      '',
      '-C',
      'release@acme',
      '-f',
      path.join(keys, 'signing'),
    ]);
    const signingKey = await readFile(path.join(keys, 'signing'), 'utf8');
    const publicKey = (await readFile(path.join(keys, 'signing.pub'), 'utf8')).trim();
    const allowedSigners = `release@acme namespaces="build-release-run" ${publicKey}\n`;
    const identity = execFileSync('age-keygen', {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const recipient = execFileSync('age-keygen', ['-y'], {
      input: identity,
      encoding: 'utf8',
    }).trim();
    const port = await freePort();
    say(
      dim(
        `Keys made with the standard tools: an Ed25519 signing key (ssh-keygen) and an age identity (age-keygen) whose recipient is ${recipient.slice(0, 16)}…`,
      ),
    );

    const env = (runId: number): Record<string, string> => ({
      ...github.runnerEnv({ repository: 'acme/shop', runId }),
      SOURCE_DATE_EPOCH: '1700000000',
      HOME: path.join(scratch, 'runner-home'),
    });
    const secrets = JSON.stringify({
      API_TOKEN: 'demo-token-3f9a',
      github_token: 'ghs_not_released',
    });
    const releaseInputs = (greeting: string) => ({
      environment: 'production',
      app: 'shop',
      vars: JSON.stringify({ GREETING: greeting, PORT: String(port) }),
      secrets,
      'signing-key': signingKey,
      recipients: recipient,
    });
    const runInputs = (releaseId: string) => ({
      environment: 'production',
      app: 'shop',
      'release-id': releaseId,
      hosts: 'local',
      path: deployRoot,
      'allowed-signers': allowedSigners,
      identity,
      // Its migration: once per deploy, before the switch; not on a rollback.
      'release-command': 'bin/migrate',
      restart: 'bin/restart',
      'health-check': 'bin/health',
      'health-timeout': '20',
      // The app keeps its pid file, log and "database" in run/, log/ and db/, shared by every
      // release.
      'shared-paths': 'run\nlog\ndb',
    });

    chapter('1. Build: pack the commit once');
    const run1 = env(101);
    const built = await step(
      github,
      'build-action',
      { app: 'shop', path: '.', command: 'echo "compiling shop…"' },
      { workspace, env: run1 },
    );
    say(
      `Packed ${built.outputs.files} files into ${built.outputs['artifact-name']} (${built.outputs.size} bytes).`,
    );
    say(
      `Digest ${built.outputs.digest}, uploaded as artifact ${built.outputs['artifact-id']}; cached by app and SHA.`,
    );

    chapter('2. Release v1: the build plus production config, signed, secrets encrypted');
    const v1 = await step(github, 'release-action', releaseInputs('Hello from v1'), {
      workspace,
      env: run1,
    });
    say(
      `${v1.outputs.tag}: "${v1.outputs.changes}". release.json ${v1.outputs['manifest-digest']}`,
    );
    say(dim('API_TOKEN is in the release only as age ciphertext; github_token was left out.'));

    chapter('3. Run v1: verify, unpack, switch current, restart, health-check');
    const deployed1 = await step(github, 'run-action', runInputs('latest'), {
      workspace,
      env: run1,
    });
    appStarted = true;
    say(`current -> ${await readlink(path.join(deployRoot, 'current'))}`);
    say(`The app answers: ${await ask(port)}`);

    chapter('4. Change a config var: a new release v2 from the same build, no rebuild');
    const run2 = env(102);
    const v2 = await step(github, 'release-action', releaseInputs('Hello from v2, same build'), {
      workspace,
      env: run2,
    });
    say(
      `${v2.outputs.tag}: "${v2.outputs.changes}" (previous: ${v2.outputs['previous-release-id']})`,
    );
    await step(github, 'run-action', runInputs('latest'), { workspace, env: run2 });
    say(`current -> ${await readlink(path.join(deployRoot, 'current'))}`);
    say(`The app answers: ${await ask(port)}`);

    chapter('5. Roll back: release-id "previous", a symlink switch, nothing uploaded');
    const back = await step(github, 'run-action', runInputs('previous'), {
      workspace,
      env: env(103),
    });
    say(
      `Back on ${back.outputs['release-id']} (was ${back.outputs['previous-release-id']}); current -> ${await readlink(path.join(deployRoot, 'current'))}`,
    );
    say(`The app answers: ${await ask(port)}`);

    chapter('6. The ledger: every release, append-only and hash-chained');
    const response = await fetch(`${github.apiUrl}/repos/acme/shop/releases`, {
      headers: { authorization: `Bearer ${github.token}` },
    });
    const releases = (await response.json()) as {
      tag_name: string;
      name: string;
      target_commitish: string;
      published_at: string;
    }[];
    for (const entry of releases.sort((a, b) => a.tag_name.localeCompare(b.tag_name))) {
      say(
        `  ${entry.tag_name.padEnd(22)} ${entry.name.replace(/^.*?: /, '').padEnd(40)} ${entry.target_commitish.slice(0, 7)}  ${entry.published_at}`,
      );
    }
    const history = (await readFile(path.join(deployRoot, '.deploy', 'history'), 'utf8'))
      .trim()
      .split('\n');
    say(
      dim(
        `The host's history has ${history.length} events; ${deployed1.outputs.hosts} ran v1, v2, then v1 again.`,
      ),
    );
    await writeFile(path.join(scratch, 'done'), '');
  } finally {
    if (appStarted) {
      try {
        execFileSync('sh', ['bin/stop'], { cwd: path.join(deployRoot, 'current') });
      } catch {
        // The app was not running.
      }
    }
    await github.stop();
    await rm(scratch, { recursive: true, force: true });
  }
  chapter('Done: the app, the emulator and the files this demo made are gone.');
}

await main();
