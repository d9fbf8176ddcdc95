// `npm run bench -- ssh`: how fast ssh2 (as the actions bundle it: no native add-on) moves bytes
// to a test sshd, by cipher and by write pattern, against OpenSSH's ssh on the same host; then
// where run-action's upload spends its time (the re-checked plain tar, or the compressed bundle).
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import ssh2, { type ClientChannel, type ConnectConfig } from 'ssh2';
import { checkedTar } from '../shared/bundle.js';
import { startHost, type TestHost } from '../test/hosts/sshd.js';
import { ensureAppTrees } from './app-tree.js';
import { packVersions } from './deploy-steps.js';
import { bash, proxied, settle, type ProxiedHost } from './wire.js';

const work = join(import.meta.dirname, '.work');
const MiB = 2 ** 20;
const PAYLOAD = 128 * MiB;
const RUNS = 3;

type Algorithms = NonNullable<ConnectConfig['algorithms']>;

type Cipher = Extract<NonNullable<Algorithms['cipher']>, unknown[]>[number];
type Mac = Extract<NonNullable<Algorithms['hmac']>, unknown[]>[number];

interface Setting {
  label: string;
  cipher?: Cipher[];
  hmac?: Mac[];
  /** Bytes per channel.write. */
  chunk: number;
  noDelay: boolean;
}

function connect(target: ProxiedHost, setting: Setting, port: number): Promise<ssh2.Client> {
  const client = new ssh2.Client();
  const blob = target.knownHosts.trim().split(/\s+/)[2] ?? '';
  const algorithms: Algorithms = {
    ...(setting.cipher ? { cipher: setting.cipher } : {}),
    ...(setting.hmac ? { hmac: setting.hmac } : {}),
  };
  return new Promise((resolve, reject) => {
    client.once('error', reject);
    client.once('ready', () => {
      client.setNoDelay(setting.noDelay);
      resolve(client);
    });
    client.on('handshake', (negotiated) => {
      if (setting.cipher && negotiated.cs.cipher !== setting.cipher[0]) {
        reject(new Error(`negotiated ${negotiated.cs.cipher}, wanted ${setting.label}`));
      }
    });
    client.connect({
      host: '127.0.0.1',
      port,
      username: target.host.user,
      privateKey: target.host.privateKey,
      algorithms,
      hostVerifier: (key: Buffer) => key.toString('base64') === blob,
    });
  });
}

/** Runs `command` on the host with `source` on its stdin, writing with backpressure. */
function send(
  client: ssh2.Client,
  command: string,
  source: AsyncIterable<Buffer> | Iterable<Buffer>,
): Promise<void> {
  return new Promise((resolve, reject) => {
    client.exec(command, (error, channel: ClientChannel) => {
      if (error) return reject(error);
      let stderr = '';
      channel.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      channel.on('data', () => undefined);
      channel.once('exit', (code: number | null) =>
        code === 0 ? resolve() : reject(new Error(`${command}: ${code} ${stderr}`)),
      );
      void (async () => {
        for await (const chunk of source) {
          if (!channel.write(chunk)) {
            await new Promise((drained) => channel.once('drain', drained));
          }
        }
        channel.end();
      })().catch(reject);
    });
  });
}

function* slices(payload: Buffer, chunk: number): Generator<Buffer> {
  for (let at = 0; at < payload.length; at += chunk) yield payload.subarray(at, at + chunk);
}

async function timed(work: () => Promise<unknown>): Promise<{ seconds: number; cpu: number }> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  await work();
  const used = process.cpuUsage(cpu);
  return { seconds: (performance.now() - started) / 1000, cpu: (used.user + used.system) / 1e6 };
}

const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
const rate = (bytes: number, seconds: number) => `${(bytes / 1e6 / seconds).toFixed(0)} MB/s`;

async function ssh2Rate(target: ProxiedHost, setting: Setting, payload: Buffer, port: number) {
  const seconds: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const client = await connect(target, setting, port);
    const run = await timed(() => send(client, 'cat > /dev/null', slices(payload, setting.chunk)));
    client.end();
    seconds.push(run.seconds);
    cpu.push(run.cpu);
  }
  const s = median(seconds);
  console.log(
    `  ssh2 ${setting.label.padEnd(54)} ${rate(payload.length, s).padStart(9)}  (node CPU ${(median(cpu) / s).toFixed(2)} cores)`,
  );
}

async function opensshRate(target: ProxiedHost, file: string, cipher: string, port: number) {
  const ssh = target.ssh.map((arg, i) => (target.ssh[i - 1] === '-p' ? String(port) : arg));
  const seconds: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    seconds.push(
      await bash(`"\${@:2}" 'cat > /dev/null' < "$1"`, [
        file,
        ...ssh,
        ...(cipher === 'default' ? [] : ['-c', cipher]),
        target.login,
      ]),
    );
  }
  console.log(
    `  OpenSSH ssh -c ${cipher.padEnd(46)} ${rate(PAYLOAD, median(seconds)).padStart(9)}`,
  );
}

const GCM: Cipher[] = ['aes128-gcm@openssh.com'];

async function ciphersAndWrites(target: ProxiedHost, host: TestHost): Promise<void> {
  const payload = randomBytes(PAYLOAD);
  const file = join(work, 'ssh-payload.bin');
  await writeFile(file, payload);
  console.log(
    `upload of ${PAYLOAD / MiB} MiB of random bytes to 'cat > /dev/null', median of ${RUNS}:`,
  );
  for (const port of [host.port, target.proxy.port]) {
    console.log(
      port === host.port ? 'straight to sshd:' : 'through the counting proxy of the deploy bench:',
    );
    await opensshRate(target, file, 'default', port);
    await opensshRate(target, file, 'aes128-gcm@openssh.com', port);
    await ssh2Rate(
      target,
      { label: 'defaults (64 KiB writes)', chunk: 64 * 1024, noDelay: true },
      payload,
      port,
    );
    if (port !== host.port) continue;
    const settings: Setting[] = [
      { label: 'aes128-gcm, 64 KiB writes', cipher: GCM, chunk: 64 * 1024, noDelay: true },
      {
        label: 'aes256-gcm, 64 KiB writes',
        cipher: ['aes256-gcm@openssh.com'],
        chunk: 64 * 1024,
        noDelay: true,
      },
      {
        label: 'aes128-ctr + hmac-sha2-256-etm, 64 KiB writes',
        cipher: ['aes128-ctr'],
        hmac: ['hmac-sha2-256-etm@openssh.com'],
        chunk: 64 * 1024,
        noDelay: true,
      },
      {
        label: 'chacha20-poly1305 (JavaScript), 64 KiB writes',
        cipher: ['chacha20-poly1305@openssh.com'],
        chunk: 64 * 1024,
        noDelay: true,
      },
      { label: 'aes128-gcm, 512 B writes', cipher: GCM, chunk: 512, noDelay: true },
      { label: 'aes128-gcm, 4 KiB writes', cipher: GCM, chunk: 4096, noDelay: true },
      { label: 'aes128-gcm, 16 KiB writes', cipher: GCM, chunk: 16 * 1024, noDelay: true },
      {
        label: 'aes128-gcm, 32 KiB writes (one SSH packet)',
        cipher: GCM,
        chunk: 32 * 1024,
        noDelay: true,
      },
      { label: 'aes128-gcm, 256 KiB writes', cipher: GCM, chunk: 256 * 1024, noDelay: true },
      { label: 'aes128-gcm, 1 MiB writes', cipher: GCM, chunk: MiB, noDelay: true },
      { label: 'aes128-gcm, 1 MiB writes, Nagle on', cipher: GCM, chunk: MiB, noDelay: false },
    ];
    for (const setting of settings) await ssh2Rate(target, setting, payload, port);
  }
}

/** What run-action's upload does today, and what sending the bundle as it is would do. */
async function uploadPaths(target: ProxiedHost): Promise<void> {
  const trees = await ensureAppTrees(work);
  const [bundle] = await packVersions(trees);
  if (!bundle) throw new Error('no bundle');
  const setting: Setting = { label: 'defaults', chunk: 64 * 1024, noDelay: true };
  console.log(`run-action's upload of the bench app (${(bundle.size / MiB).toFixed(1)} MiB zstd):`);
  let plainBytes = 0;
  const alone = await timed(async () => {
    for await (const chunk of checkedTar(bundle.file, { compression: 'zstd' })) {
      plainBytes += (chunk as Buffer).length;
    }
  });
  console.log(
    `  checkedTar (decompress, check, re-encode) alone: ${alone.seconds.toFixed(2)} s, ${rate(plainBytes, alone.seconds)} of plain tar`,
  );
  const client = await connect(target, setting, target.host.port);
  try {
    settle();
    const plain = await timed(() =>
      send(
        client,
        `cd ${target.host.root} && rm -rf x && mkdir x && tar -xof - -C x`,
        checkedTar(bundle.file, { compression: 'zstd' }),
      ),
    );
    console.log(`  checkedTar -> ssh2 -> tar -x (today): ${plain.seconds.toFixed(2)} s`);
    await bash(`rm -rf "$1/x"`, [target.host.root]);
    settle();
    const zstd = await timed(() =>
      send(
        client,
        `cd ${target.host.root} && mkdir x && zstd -q -d | tar -xof - -C x`,
        createReadStream(bundle.file, { highWaterMark: MiB }),
      ),
    );
    console.log(`  bundle file -> ssh2 -> zstd -d | tar -x: ${zstd.seconds.toFixed(2)} s`);
  } finally {
    client.end();
  }
}

export async function sshBench(): Promise<void> {
  const load = () =>
    loadavg()
      .map((value) => value.toFixed(1))
      .join(' ');
  console.log(`load average before: ${load()}`);
  const host = await startHost();
  const target = await proxied(host);
  try {
    await ciphersAndWrites(target, host);
    await uploadPaths(target);
    console.log(`load average after: ${load()}`);
  } finally {
    await target.proxy.close();
    await host.stop();
  }
}
