export const id = 188;
export const ids = [188];
export const modules = {

/***/ 9188:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {


// EXPORTS
__webpack_require__.d(__webpack_exports__, {
  run: () => (/* binding */ run)
});

// EXTERNAL MODULE: ./shared/context.ts
var shared_context = __webpack_require__(1849);
// EXTERNAL MODULE: ./shared/errors.ts
var errors = __webpack_require__(2635);
// EXTERNAL MODULE: ./shared/markdown.ts
var markdown = __webpack_require__(2433);
;// CONCATENATED MODULE: ./shared/fleet/checklist.ts


/**
 * What a run checked, in order, before it changed anything: so a run that stops early can say
 * what passed, that nothing changed, and what each host runs when it was read.
 */
class Checklist {
    passed = [];
    /** The hosts as read, when a step read them (`previous`, a dry run). */
    hosts;
    /** Set once a host is about to change: from then on, "nothing changed" is no longer known. */
    changing = false;
    /** A check that passed, as markdown. */
    pass(line) {
        this.passed.push(line);
    }
    read(hosts) {
        this.hosts = hosts;
    }
    /** The release every host read runs, when they were read and all run the same one. */
    commonRelease() {
        const currents = new Set(this.hosts?.map((h) => h.current));
        return currents.size === 1 ? [...currents][0] : undefined;
    }
}
/** What a run's summary calls it: `Deploy shop production v7`, `Destroy shop pr-7`. */
function runTitle(run) {
    if (run.destroy)
        return `Destroy ${run.app} ${run.environment}`;
    const id = run['release-id'];
    const kind = run['dry-run'] ? 'Dry run' : id === 'previous' ? 'Rollback' : 'Deploy';
    return `${kind} ${run.app} ${run.environment} ${id}`;
}
/** The job summary of a run that stopped before it changed any host: a bad key, an unknown release. */
function stoppedSummary(options) {
    const { checklist } = options;
    const hosts = checklist.hosts;
    const passed = checklist.passed;
    return [
        `### ${options.title}: failed, ${checklist.changing ? 'while changing a host' : 'nothing changed'}`,
        '',
        `> ✗ ${(0,markdown/* markdownText */.p7)((0,errors/* formatError */.Wk)(options.error))}`,
        '',
        checklist.changing
            ? 'It stopped while changing a host: read each host to see what it runs.'
            : 'Nothing changed on any host, and no GitHub Deployment was recorded.',
        passed.length > 0 ? 'What passed before it stopped:' : 'It stopped at the first check.',
        '',
        ...passed.map((line) => `- ✓ ${line}`),
        ...(passed.length > 0 ? [''] : []),
        ...(hosts
            ? [
                'What each host runs, read from it:',
                '',
                (0,markdown/* markdownTable */.Qj)(['Host', 'Runs'], hosts.map((h) => [(0,markdown/* code */.aY)(h.host), h.current ?? 'nothing'])),
                '',
            ]
            : ['The hosts were not read; each still runs what it ran before this step.', '']),
    ].join('\n');
}

// EXTERNAL MODULE: external "node:child_process"
var external_node_child_process_ = __webpack_require__(1421);
;// CONCATENATED MODULE: ./shared/host/transport.ts
/**
 * What both transports do with a command they started: feed its stdin, keep its output, stop it
 * on abort, and resolve with its exit status; a command that exited is waited for only
 * `graceMs` more, since a daemon it started may hold its output open.
 */
function awaitCommand(command, options) {
    return new Promise((resolve, reject) => {
        const stdout = new OutputBuffer();
        const stderr = new OutputBuffer();
        let bytesSent = 0;
        let exit;
        let settled = false;
        const settle = () => {
            if (settled)
                return false;
            settled = true;
            options.signal?.removeEventListener('abort', abort);
            return true;
        };
        const finish = () => {
            if (!settle())
                return;
            command.release();
            const lost = exit === undefined ? command.lost?.() : undefined;
            if (lost)
                reject(lost);
            else {
                const { code = null, signal = null } = exit ?? {};
                resolve({ code, signal, stdout: stdout.take(), stderr: stderr.take(), bytesSent });
            }
        };
        const fail = (error) => {
            if (!settle())
                return;
            command.kill();
            reject(error instanceof Error ? error : new Error(String(error)));
        };
        const abort = () => {
            command.kill();
            exit ??= { code: null, signal: 'KILL' };
            finish();
        };
        const { onOutput, onStdout } = options;
        command.stdout.on('data', (chunk) => {
            stdout.push(chunk);
            onOutput?.(chunk);
            onStdout?.(chunk);
        });
        command.stderr.on('data', (chunk) => {
            stderr.push(chunk);
            onOutput?.(chunk);
        });
        command.stdin.on('error', () => undefined);
        command.errors?.once('error', fail);
        const exited = new Promise((done) => {
            command.events.once('exit', (code, signal) => {
                exit = { code: code ?? null, signal: signal ?? null };
                setTimeout(finish, options.graceMs).unref();
                done();
            });
            command.events.once('close', () => done());
        });
        command.events.once('close', finish);
        if (options.signal?.aborted)
            abort();
        options.signal?.addEventListener('abort', abort);
        if (options.stdin === undefined) {
            command.stdin.end();
            return;
        }
        const count = (bytes) => {
            bytesSent += bytes;
            options.count(bytes);
        };
        feed(options.stdin, command.stdin, count, exited).catch(fail);
    });
}
/** Output kept per stream; beyond it the oldest bytes go, since the end says what went wrong. */
const OUTPUT_LIMIT = 16 * 1024 * 1024;
class OutputBuffer {
    chunks = [];
    size = 0;
    truncated = false;
    push(chunk) {
        this.chunks.push(chunk);
        this.size += chunk.length;
        while (this.size > OUTPUT_LIMIT && this.chunks.length > 1) {
            this.size -= this.chunks.shift()?.length ?? 0;
            this.truncated = true;
        }
    }
    take() {
        return Buffer.concat(this.chunks);
    }
}
/**
 * Writes stdin into a command with backpressure, counting bytes. Stops quietly when the command
 * stops reading (it exited, e.g. tar on a full disk): its exit status tells the story.
 */
async function feed(input, sink, count, closed) {
    let stop = false;
    const halt = () => {
        stop = true;
    };
    sink.once('error', halt);
    sink.once('close', halt);
    void closed.then(halt);
    const chunks = typeof input === 'string' || Buffer.isBuffer(input) ? [input] : input;
    try {
        for await (const chunk of chunks) {
            if (stop)
                break;
            const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
            if (bytes.length === 0)
                continue;
            const ok = sink.write(bytes);
            count(bytes.length);
            if (!ok)
                await writable(sink, closed);
        }
    }
    finally {
        sink.off('error', halt);
        sink.off('close', halt);
        if (typeof input !== 'string' && !Buffer.isBuffer(input))
            input.destroy();
    }
    if (!stop)
        sink.end();
}
/** Waits for room in a sink, or for it to be gone; never rejects: the exit status tells why. */
function writable(sink, closed) {
    return new Promise((resolve) => {
        const done = () => {
            sink.off('drain', done);
            sink.off('error', done);
            sink.off('close', done);
            resolve();
        };
        sink.once('drain', done);
        sink.once('error', done);
        sink.once('close', done);
        void closed.then(done);
    });
}

;// CONCATENATED MODULE: ./shared/host/local.ts


/** This machine as a host: for self-hosted runners and the demo. */
function localTransport(options = {}) {
    let sent = 0;
    const graceMs = (options.closeGraceSeconds ?? 2) * 1000;
    return {
        label: 'local',
        get bytesSent() {
            return sent;
        },
        exec(script, execOptions = {}) {
            // Its own process group, so an abort ends the script and what it started, by group id.
            const child = (0,external_node_child_process_.spawn)('/bin/sh', ['-c', script], {
                stdio: ['pipe', 'pipe', 'pipe'],
                detached: true,
                ...(options.env ? { env: options.env } : {}),
            });
            const command = {
                events: child,
                errors: child,
                stdout: child.stdout,
                stderr: child.stderr,
                stdin: child.stdin,
                kill: () => {
                    try {
                        if (child.pid !== undefined)
                            process.kill(-child.pid, 'SIGKILL');
                    }
                    catch {
                        // The group is gone already.
                    }
                },
                release: () => {
                    child.stdout.destroy();
                    child.stderr.destroy();
                    child.stdin.destroy();
                },
            };
            return awaitCommand(command, {
                ...execOptions,
                graceMs,
                count: (bytes) => (sent += bytes),
            });
        },
        close: () => Promise.resolve(),
    };
}

// EXTERNAL MODULE: ./node_modules/ssh2/lib/index.js
var lib = __webpack_require__(5472);
var lib_default = /*#__PURE__*/__webpack_require__.n(lib);
// EXTERNAL MODULE: ./shared/names.ts
var shared_names = __webpack_require__(8002);
// EXTERNAL MODULE: external "node:crypto"
var external_node_crypto_ = __webpack_require__(7598);
;// CONCATENATED MODULE: ./shared/openssh-patterns.ts
/**
 * OpenSSH's pattern lists (match.c): comma-separated globs where `*` matches any run and `?` one
 * character, and a `!` pattern that matches vetoes the whole list. known_hosts host fields and
 * allowed_signers principals both use them; host names compare without case, principals with.
 */
function matchPatternList(value, patterns, options = {}) {
    let matched = false;
    for (const raw of patterns.split(',')) {
        const negated = raw.startsWith('!');
        if (globMatch(value, negated ? raw.slice(1) : raw, options.ignoreCase ?? false)) {
            if (negated)
                return false;
            matched = true;
        }
    }
    return matched;
}
function globMatch(value, pattern, ignoreCase) {
    const source = pattern
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*/g, '.*')
        .replace(/\?/g, '.');
    return new RegExp(`^${source}$`, ignoreCase ? 'si' : 's').test(value);
}

;// CONCATENATED MODULE: ./shared/host/known-hosts.ts


function parseKnownHosts(text) {
    const entries = [];
    for (const raw of text.split(/\r?\n/)) {
        const line = raw.trim();
        if (line === '' || line.startsWith('#'))
            continue;
        const fields = line.split(/\s+/);
        let marker;
        if (fields[0] === '@revoked' || fields[0] === '@cert-authority') {
            marker = fields[0] === '@revoked' ? 'revoked' : 'cert-authority';
            fields.shift();
        }
        const [patterns, keyType, base64] = fields;
        if (!patterns || !keyType || !base64 || !/^[A-Za-z0-9+/]+={0,2}$/.test(base64))
            continue;
        entries.push({ marker, patterns, keyType, key: Buffer.from(base64, 'base64') });
    }
    return entries;
}
/** How known_hosts names a host: `name` on port 22, `[name]:port` elsewhere. */
function knownHostsName(host, port) {
    return port === 22 ? host : `[${host}]:${port}`;
}
function hashedMatch(pattern, name) {
    const [, kind, salt, hash] = pattern.split('|');
    if (kind !== '1' || salt === undefined || hash === undefined)
        return false;
    const expected = Buffer.from(hash, 'base64');
    const actual = (0,external_node_crypto_.createHmac)('sha1', Buffer.from(salt, 'base64')).update(name).digest();
    return expected.length === actual.length && (0,external_node_crypto_.timingSafeEqual)(expected, actual);
}
/** Whether a line's host field names this host: hashed `|1|…`, wildcards, `!negation`. */
function patternsMatch(patterns, name) {
    if (patterns.startsWith('|'))
        return hashedMatch(patterns, name);
    return matchPatternList(name, patterns, { ignoreCase: true });
}
function keysFor(entries, host, port) {
    const name = knownHostsName(host, port);
    const keys = [];
    const revoked = [];
    for (const entry of entries) {
        if (entry.marker === 'revoked')
            revoked.push(entry.key);
        // Host certificates are not supported by the SSH client; such lines can never match.
        else if (entry.marker === undefined && patternsMatch(entry.patterns, name)) {
            keys.push({ keyType: entry.keyType, key: entry.key });
        }
    }
    return { keys, revoked };
}
/** Host key algorithms the SSH client (ssh2) can verify. */
const SUPPORTED = new Set([
    'ssh-ed25519',
    'ecdsa-sha2-nistp256',
    'ecdsa-sha2-nistp384',
    'ecdsa-sha2-nistp521',
    'rsa-sha2-512',
    'rsa-sha2-256',
    'ssh-rsa',
]);
/**
 * The host key algorithms to offer, so a host with several keys shows one that is listed; empty
 * when no listed key is of a type the client supports.
 */
function hostKeyAlgorithms(keyTypes) {
    const algorithms = new Set();
    for (const type of keyTypes) {
        const names = type === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [type];
        for (const name of names)
            if (SUPPORTED.has(name))
                algorithms.add(name);
    }
    return [...algorithms];
}
/** The fingerprint ssh-keygen -l prints: `SHA256:` and unpadded base64. */
function fingerprint(key) {
    return `SHA256:${(0,external_node_crypto_.createHash)('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}
/** The key type inside an SSH public key blob (its first string). */
function blobKeyType(key) {
    if (key.length < 4)
        return 'unknown';
    const length = key.readUInt32BE(0);
    return key.subarray(4, 4 + length).toString('latin1');
}

;// CONCATENATED MODULE: ./shared/host/ssh.ts





/** How long a command may keep its channel open after it exited (a daemon it started). */
const CLOSE_GRACE_MS = 2000;
/**
 * Ciphers in the order asked for, pinned rather than left to what ssh2 makes of the CPU (it puts
 * chacha20-poly1305 first on one it finds without AES instructions): AES-GCM first, which Node's
 * OpenSSL runs on the CPU's AES instructions and which needs no separate MAC; chacha20-poly1305
 * last, since ssh2 computes its Poly1305 in WebAssembly without its native add-on, which the
 * bundled actions do not carry (`npm run bench -- ssh` compares them). A host that offers none
 * of these is refused at the handshake.
 */
const CIPHERS = [
    'aes128-gcm@openssh.com',
    'aes256-gcm@openssh.com',
    'aes128-ctr',
    'aes256-ctr',
    'chacha20-poly1305@openssh.com',
];
/** For the CTR ciphers: encrypt-then-MAC first. */
const MACS = [
    'hmac-sha2-256-etm@openssh.com',
    'hmac-sha2-512-etm@openssh.com',
    'hmac-sha2-256',
    'hmac-sha2-512',
];
// ssh2 is CommonJS: Node's ESM loader sees only its default export.
const { Client, utils } = (lib_default());
function hostError(target, problem, role = 'host') {
    return new errors/* ConfigurationError */.j1({ subject: `${role} ${target.label}`, ...problem });
}
/** Checks a key input (`ssh-key`, `proxy-jump-key`): one unencrypted OpenSSH private key. */
function checkSshKey(privateKey, input = 'ssh-key') {
    const key = utils.parseKey(privateKey);
    const expected = 'an unencrypted OpenSSH private key (-----BEGIN OPENSSH PRIVATE KEY-----)';
    if (key instanceof Error) {
        throw new errors/* ConfigurationError */.j1({ input, expected, got: key.message });
    }
    if (Array.isArray(key))
        throw new errors/* ConfigurationError */.j1({ input, expected, got: 'several keys' });
    if (!key.isPrivateKey()) {
        throw new errors/* ConfigurationError */.j1({
            input,
            expected,
            got: `a ${key.type} public key`,
            hint: 'give the private half of the key pair; the public half goes in the host user’s authorized_keys',
        });
    }
}
/**
 * The keys `known-hosts` lists for a host and the host key algorithms to ask it for, so a host
 * with several keys shows a listed one. A host it does not list is refused before any connection.
 */
function knownKeysFor(target, knownHosts, role = 'host') {
    const known = keysFor(parseKnownHosts(knownHosts), target.host, target.port);
    if (known.keys.length === 0) {
        const name = knownHostsName(target.host, target.port);
        throw hostError(target, {
            problem: 'not in known-hosts',
            hint: `add a line for ${name} (ssh-keyscan -p ${target.port} ${target.host}, then check its fingerprint)`,
        }, role);
    }
    const algorithms = hostKeyAlgorithms(known.keys.map((k) => k.keyType));
    if (algorithms.length === 0) {
        const types = [...new Set(known.keys.map((k) => k.keyType))].join(', ');
        throw hostError(target, {
            problem: `known-hosts lists only ${types} keys for it`,
            hint: 'add its ssh-ed25519, ecdsa or rsa key',
        }, role);
    }
    return { known, algorithms };
}
/**
 * Connects with strict host key checking: the host must be listed in `knownHosts` and present
 * one of the listed keys. Every failure is a one-line ConfigurationError naming the host.
 */
async function connectSsh(options) {
    const sock = options.via ? await options.via.forward(options.target) : undefined;
    const client = await openClient(options, { role: 'host', sock, keyInput: 'ssh-key' });
    return sshTransport(client, options.target, CLOSE_GRACE_MS);
}
/**
 * Connects to a bastion (`proxy-jump`) as strictly as to a host: listed in `knownHosts`, one of
 * its keys, `privateKey` accepted. Its failures name the bastion, apart from any host's. Hosts
 * are then reached through it with `connectSsh({ via })`, as `ssh -J` does.
 */
async function connectBastion(options) {
    const bastion = options.target;
    const client = await openClient(options, { role: 'bastion', keyInput: options.keyInput });
    let closed = false;
    client.once('close', () => {
        closed = true;
    });
    return {
        label: bastion.label,
        forward: (target) => new Promise((resolve, reject) => {
            // OpenSSH's direct-tcpip open; the originator is only informative.
            client.forwardOut('127.0.0.1', 0, target.host, target.port, (error, channel) => {
                if (!error)
                    return resolve(channel);
                reject(hostError(target, {
                    problem: `unreachable through bastion ${bastion.label}: ${forwardRefusal(error, target)}`,
                }));
            });
        }),
        close: () => (closed ? Promise.resolve() : closeClient(client)),
    };
}
/** Why a bastion did not open a channel to a host, from the SSH open-failure reason code. */
function forwardRefusal(error, target) {
    const where = `${target.host} port ${target.port}`;
    if (error.reason === 1) {
        return `it does not forward to ${where} (its sshd's AllowTcpForwarding or PermitOpen)`;
    }
    if (error.reason === 2)
        return `it cannot connect to ${where}`;
    return `it could not open a channel to ${where} (${error.message})`;
}
/** One authenticated ssh2 client, on its own TCP connection or on `sock` (a bastion's channel). */
async function openClient(options, how) {
    const { target } = options;
    const { role } = how;
    if (options.agent === undefined)
        checkSshKey(options.privateKey, how.keyInput);
    const { known, algorithms } = knownKeysFor(target, options.knownHosts, role);
    const timeoutSeconds = options.connectTimeoutSeconds ?? 20;
    const client = new Client();
    let problem;
    const config = {
        ...(how.sock ? { sock: how.sock } : {}),
        host: target.host,
        port: target.port,
        username: target.user,
        ...(options.agent !== undefined
            ? { agent: options.agent }
            : { privateKey: options.privateKey }),
        readyTimeout: timeoutSeconds * 1000,
        keepaliveInterval: 10_000,
        keepaliveCountMax: 3,
        algorithms: {
            serverHostKey: algorithms,
            cipher: CIPHERS,
            hmac: MACS,
        },
        hostVerifier: (offered) => {
            if (known.revoked.some((k) => k.equals(offered))) {
                problem = { kind: 'revoked', offered };
                return false;
            }
            if (known.keys.some((k) => k.key.equals(offered)))
                return true;
            problem = { kind: 'mismatch', offered };
            return false;
        },
    };
    await new Promise((resolve, reject) => {
        const onError = (error) => {
            client.removeListener('ready', onReady);
            client.end();
            reject(connectError({ target, role, keyInput: how.keyInput }, error, problem, timeoutSeconds));
        };
        const onReady = () => {
            client.removeListener('error', onError);
            // Nagle's delay meets the host's delayed ACK on every small request: 40 ms stalls per command.
            client.setNoDelay(true);
            resolve();
        };
        // Errors after the first (a timeout, then the socket closing) and after the connection is up
        // surface through the call in use; unheard, they would crash the process.
        client.on('error', () => undefined);
        client.once('error', onError);
        client.once('ready', onReady);
        client.connect(config);
    });
    return client;
}
function closeClient(client) {
    return new Promise((resolve) => {
        client.once('close', () => resolve());
        client.end();
    });
}
function sshTransport(client, target, graceMs) {
    let closed = false;
    client.once('close', () => {
        closed = true;
    });
    let sent = 0;
    const lost = () => hostError(target, { problem: 'the SSH connection was lost' });
    return {
        label: target.label,
        get bytesSent() {
            return sent;
        },
        exec(script, execOptions = {}) {
            if (closed)
                return Promise.reject(lost());
            // The login shell may not be sh; it only has to run one quoted word.
            const command = `exec /bin/sh -c ${(0,shared_names/* shellQuote */.ZL)(script)}`;
            return new Promise((resolve, reject) => {
                client.exec(command, (error, channel) => {
                    if (error) {
                        reject(hostError(target, { problem: 'cannot run a command', got: error.message }));
                        return;
                    }
                    // Listens at once: a quick command's exit can arrive with the channel itself.
                    awaitCommand(channelCommand(channel, () => (closed ? lost() : undefined)), {
                        ...execOptions,
                        graceMs,
                        count: (bytes) => (sent += bytes),
                    }).then(resolve, reject);
                });
            });
        },
        close() {
            return closed ? Promise.resolve() : closeClient(client);
        },
    };
}
function channelCommand(channel, lost) {
    return {
        events: channel,
        stdout: channel,
        stderr: channel.stderr,
        stdin: channel,
        kill: () => {
            try {
                channel.signal('KILL');
            }
            catch {
                // The channel is gone already.
            }
            channel.close();
        },
        release: () => {
            channel.removeAllListeners('data');
            channel.stderr.removeAllListeners('data');
            channel.close();
        },
        lost,
    };
}
function connectError(who, error, problem, timeoutSeconds) {
    const { target, role } = who;
    const fail = (details) => hostError(target, details, role);
    if (problem) {
        const offered = `${blobKeyType(problem.offered)} ${fingerprint(problem.offered)}`;
        return problem.kind === 'revoked'
            ? fail({ problem: `its host key ${offered} is marked @revoked in known-hosts` })
            : fail({
                problem: `host key ${offered} does not match known-hosts`,
                hint: `if the ${role} was rebuilt, update known-hosts, else someone may be in the middle`,
            });
    }
    if (error.level === 'client-authentication') {
        return fail({
            problem: `the ${role} refused ${who.keyInput ?? 'ssh-key'} (authentication failed)`,
            hint: "check the user's authorized_keys",
        });
    }
    if (error.level === 'client-timeout') {
        return fail({ problem: `unreachable, no SSH answer within ${timeoutSeconds} s` });
    }
    return fail({ problem: `unreachable (${error.code ?? error.message})` });
}

;// CONCATENATED MODULE: ./shared/fleet/parallel.ts
/** `fn` over `items`, at most `limit` running at once; every outcome, in the items' order. */
async function mapLimit(items, limit, fn, shouldStart = () => true) {
    const outcomes = new Array(items.length);
    let next = 0;
    const worker = async () => {
        while (next < items.length && shouldStart()) {
            const index = next++;
            try {
                outcomes[index] = { status: 'fulfilled', value: await fn(items[index], index) };
            }
            catch (reason) {
                outcomes[index] = { status: 'rejected', reason };
            }
        }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
    return outcomes;
}

;// CONCATENATED MODULE: ./shared/fleet/connect.ts




/** The `proxy-jump` inputs as access to the bastion: its own key, or the hosts' `ssh-key`. */
function proxyJumpOf(inputs) {
    const { bastion, proxyJumpKey } = inputs;
    if (bastion === undefined) {
        if (proxyJumpKey === undefined)
            return undefined;
        throw new errors/* ConfigurationError */.j1({
            input: 'proxy-jump-key',
            problem: 'set, but proxy-jump is not',
        });
    }
    return proxyJumpKey !== undefined
        ? { bastion, privateKey: proxyJumpKey, keyInput: 'proxy-jump-key' }
        : { bastion, privateKey: inputs.sshKey ?? '', keyInput: 'ssh-key' };
}
/** Variables the `local` host's commands get: enough to find tools, none of the action's inputs. */
const LOCAL_ENV = ['PATH', 'HOME', 'USER', 'LOGNAME', 'SHELL', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR'];
/** The environment of the `local` host's commands, picked from the runner's. */
function localEnv(env) {
    const picked = {};
    for (const name of LOCAL_ENV) {
        const value = env[name];
        if (value !== undefined)
            picked[name] = value;
    }
    return picked;
}
/**
 * Refuses what would stop a connection before anything is downloaded or contacted: a missing or
 * unreadable `ssh-key`, a missing `known-hosts`, a host it does not list.
 */
function checkHostAccess(hosts, access) {
    const ssh = hosts.flatMap((host) => (host.kind === 'ssh' ? [host] : []));
    if (ssh.length === 0)
        return;
    const names = ssh.map((host) => host.label).join(', ');
    if (access.knownHosts === undefined) {
        throw new errors/* ConfigurationError */.j1({
            input: 'known-hosts',
            problem: `required for SSH hosts (${names})`,
            hint: 'give their known_hosts lines (ssh-keyscan, then check the fingerprints); host keys are always checked',
        });
    }
    if (access.sshAgent === undefined) {
        if (access.sshKey === undefined) {
            throw new errors/* ConfigurationError */.j1({
                input: 'ssh-key',
                problem: `required for SSH hosts (${names})`,
                hint: 'the private key the deploy user logs in with',
            });
        }
        checkSshKey(access.sshKey);
    }
    for (const host of ssh)
        knownKeysFor(host, access.knownHosts);
    const jump = access.proxyJump;
    if (jump) {
        if (jump.agent === undefined)
            checkSshKey(jump.privateKey, jump.keyInput);
        knownKeysFor(jump.bastion, access.knownHosts, 'bastion');
    }
}
/** How long a connection made again may take: the host was just there, or is gone. */
const RECONNECT_TIMEOUT_SECONDS = 10;
function connectTo(host, route, timeoutSeconds) {
    const { access, bastion } = route;
    if (host.kind === 'local')
        return Promise.resolve(localTransport({ env: access.localEnv }));
    return connectSsh({
        target: host,
        privateKey: access.sshKey ?? '',
        ...(access.sshAgent !== undefined ? { agent: access.sshAgent } : {}),
        knownHosts: access.knownHosts ?? '',
        ...(bastion ? { via: bastion } : {}),
        ...(timeoutSeconds !== undefined ? { connectTimeoutSeconds: timeoutSeconds } : {}),
    });
}
function connection(host, first, route) {
    let transport = first;
    return {
        host,
        get transport() {
            return transport;
        },
        async reconnect() {
            if (host.kind === 'local')
                return transport;
            const fresh = await connectTo(host, route, RECONNECT_TIMEOUT_SECONDS);
            const old = transport;
            transport = fresh;
            await old.close().catch(() => undefined);
            return fresh;
        },
    };
}
/**
 * Connects to every host, at most `parallel` at once, through the bastion when there is one. All
 * or nothing: when one cannot be reached, the others are closed and nothing is deployed anywhere.
 * The error names each failing host, or the bastion.
 */
async function connectHosts(hosts, access, parallel, bastion) {
    const outcomes = await mapLimit(hosts, parallel, async (host) => connection(host, await connectTo(host, { access, bastion }), { access, bastion }));
    const failed = outcomes.flatMap((outcome) => outcome.status === 'rejected' ? [outcome.reason] : []);
    const connected = outcomes.flatMap((outcome) => outcome.status === 'fulfilled' ? [outcome.value] : []);
    if (failed.length === 0)
        return connected;
    await closeAll(connected);
    if (failed.length === 1 && failed[0] instanceof Error)
        throw failed[0];
    throw new errors/* ConfigurationError */.j1({
        problem: `${failed.length} of ${hosts.length} hosts cannot be used, nothing was deployed: ${failed.map(errors/* formatError */.Wk).join('; ')}`,
    });
}
/** Connects to the bastion of `access`, when there is one and an SSH host needs it. */
async function connectProxyJump(hosts, access) {
    const jump = access.proxyJump;
    if (!jump || !hosts.some((host) => host.kind === 'ssh'))
        return undefined;
    return connectBastion({
        target: jump.bastion,
        privateKey: jump.privateKey,
        ...(jump.agent !== undefined ? { agent: jump.agent } : {}),
        knownHosts: access.knownHosts ?? '',
        keyInput: jump.keyInput,
    });
}
async function closeAll(connections) {
    await Promise.all(connections.map((c) => c.transport.close().catch(() => undefined)));
}
function openFleet(hosts, access, parallel) {
    let bastion;
    let connecting;
    const connect = async () => {
        bastion = connectProxyJump(hosts, access);
        const via = await bastion;
        try {
            return await connectHosts(hosts, access, parallel, via);
        }
        catch (error) {
            await via?.close();
            throw error;
        }
    };
    return {
        connections: () => (connecting ??= connect()),
        close: async () => {
            const connections = await connecting?.catch(() => []);
            if (connections)
                await closeAll(connections);
            await (await bastion?.catch(() => undefined))?.close();
        },
    };
}

// EXTERNAL MODULE: ./node_modules/canonicalize/lib/canonicalize.js
var canonicalize = __webpack_require__(3842);
// EXTERNAL MODULE: ./node_modules/zod/v4/classic/schemas.js + 11 modules
var schemas = __webpack_require__(2857);
// EXTERNAL MODULE: ./node_modules/zod/v4/classic/iso.js
var iso = __webpack_require__(4377);
;// CONCATENATED MODULE: ./shared/manifest.ts





/** The release assets that hold the manifest and its SSH signature, beside the bundle. */
const MANIFEST_ASSET = 'release.json';
const SIGNATURE_ASSET = 'release.json.sig';
/** The manifest format this code writes and the newest it reads. */
const SCHEMA_VERSION = 1;
const DIGEST = /^sha256:[0-9a-f]{64}$/;
const FINGERPRINT = /^hmac-sha256:[0-9a-f]{64}$/;
const AGE_ARMOR = '-----BEGIN AGE ENCRYPTED FILE-----';
/** The package is CommonJS (`module.exports = serialize`), but its types declare an ES default. */
const manifest_canonicalize = (/* unused pure expression or super */ null && (canonicalizeModule));
const digest = schemas/* string */.YjP().regex(DIGEST, 'expected sha256: and 64 lower-case hex digits');
const commitSha = schemas/* string */.YjP().regex(shared_names/* COMMIT_SHA */.pk, 'expected a full commit SHA in lower-case hex');
const count = schemas/* number */.aig().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const githubId = schemas/* number */.aig().int().positive().max(Number.MAX_SAFE_INTEGER);
const time = iso/* datetime */.w$({ message: 'expected an ISO 8601 UTC time like 2025-01-31T12:00:00Z' });
const compression = schemas/* enum */.k5n(['zstd', 'gzip']);
const artifact = schemas/* strictObject */.rej({ id: githubId, name: schemas/* string */.YjP().min(1).max(256) });
const envName = schemas/* string */.YjP().regex(shared_names/* ENV_NAME */.G1, 'expected an environment variable name');
/** What the build stage learned about a bundle; it travels beside the bundle, never inside. */
const BuildFacts = schemas/* strictObject */.rej({
    app: shared_names/* appName */.JB,
    sha: commitSha,
    ref: schemas/* string */.YjP().min(1),
    runId: githubId,
    runAttempt: githubId,
    digest,
    size: count,
    files: count,
    compression,
    created: time,
    artifact,
});
const Secrets = schemas/* strictObject */.rej({
    names: schemas/* array */.YOg(envName),
    fingerprints: schemas/* record */.g1P(envName, schemas/* string */.YjP().regex(FINGERPRINT, 'expected hmac-sha256:<hex>')),
    ciphertext: schemas/* string */.YjP()
        .refine((text) => text.startsWith(AGE_ARMOR), `expected an armored age file (${AGE_ARMOR})`),
})
    .superRefine((secrets, ctx) => {
    const sorted = [...new Set(secrets.names)].sort();
    if (sorted.join('\n') !== secrets.names.join('\n')) {
        ctx.addIssue({ code: 'custom', path: ['names'], message: 'expected sorted, unique names' });
    }
    if (Object.keys(secrets.fingerprints).sort().join('\n') !== sorted.join('\n')) {
        ctx.addIssue({
            code: 'custom',
            path: ['fingerprints'],
            message: 'expected one fingerprint for each secret name',
        });
    }
});
/**
 * release.json: one release, immutable. Strict everywhere: a field this code does not know is
 * refused, since a reader that skipped it could deploy something the writer did not mean.
 */
const Manifest = schemas/* strictObject */.rej({
    schemaVersion: schemas/* literal */.euz(SCHEMA_VERSION),
    app: shared_names/* appName */.JB,
    environment: shared_names/* environmentName */.VE,
    id: shared_names/* releaseId */.Bf,
    created: time,
    actor: schemas/* string */.YjP().min(1).max(100),
    run: schemas/* strictObject */.rej({
        id: githubId,
        attempt: githubId,
        url: schemas/* url */.OZ5({ protocol: /^https?$/, message: 'expected an http(s) URL' }),
    }),
    build: schemas/* strictObject */.rej({ sha: commitSha, digest, size: count, compression, artifact }),
    config: schemas/* strictObject */.rej({
        vars: schemas/* record */.g1P(envName, schemas/* string */.YjP()),
        secrets: Secrets.nullable(),
    }),
    previous: schemas/* strictObject */.rej({ id: shared_names/* releaseId */.Bf, digest }).nullable(),
    changes: schemas/* string */.YjP().max(1000),
})
    .superRefine((manifest, ctx) => {
    for (const name of manifest.config.secrets?.names ?? []) {
        if (Object.hasOwn(manifest.config.vars, name)) {
            ctx.addIssue({
                code: 'custom',
                path: ['config', 'vars', name],
                message: 'is also a secret name',
            });
        }
    }
    if (manifest.previous?.id === manifest.id) {
        ctx.addIssue({ code: 'custom', path: ['previous', 'id'], message: 'points to itself' });
    }
});
/** RFC 8785 (JCS) canonical JSON: the same value always gives the same bytes. */
function manifest_canonicalJson(value) {
    const text = manifest_canonicalize(value);
    if (text === undefined)
        throw new Error('canonicalJson: the value has no JSON form');
    return text;
}
/** The exact bytes of release.json: canonical JSON in UTF-8, no trailing newline. */
function serializeManifest(manifest) {
    const checked = Manifest.safeParse(manifest);
    if (!checked.success) {
        const problem = new ConfigurationError(describeIssue('the manifest', checked.error));
        throw new Error(`serializeManifest: ${problem.message}`);
    }
    return new TextEncoder().encode(manifest_canonicalJson(checked.data));
}
function digestOf(bytes) {
    return `sha256:${(0,external_node_crypto_.createHash)('sha256').update(bytes).digest('hex')}`;
}
/**
 * Reads release.json bytes. `what` names the file in errors (a tag or a host path), since a
 * deploy reads several manifests and the user has to know which one is wrong.
 */
function parseManifest(bytes, what = 'release.json') {
    let value;
    try {
        value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
    }
    catch (error) {
        throw new errors/* ConfigurationError */.j1({
            subject: what,
            problem: 'is not valid JSON',
            got: error.message,
        });
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        throw new errors/* ConfigurationError */.j1({ subject: what, expected: 'a JSON object' });
    }
    const version = value.schemaVersion;
    if (typeof version === 'number' && Number.isInteger(version) && version > SCHEMA_VERSION) {
        throw new errors/* ConfigurationError */.j1({
            subject: what,
            problem: `has schema version ${version}, newer than this action understands (${SCHEMA_VERSION})`,
            hint: 'update build-release-run',
        });
    }
    const result = Manifest.safeParse(value);
    if (!result.success)
        throw new errors/* ConfigurationError */.j1(describeIssue(what, result.error));
    return result.data;
}
/** Reads the build facts that travel beside a bundle. */
function manifest_parseBuildFacts(value, what = 'build facts') {
    const result = BuildFacts.safeParse(value);
    if (!result.success)
        throw new ConfigurationError(describeIssue(what, result.error));
    return result.data;
}
/** The first issue: field paths (which hold untrusted keys) go with the subject, escaped. */
function describeIssue(what, error) {
    const issue = error.issues[0];
    if (!issue)
        return { subject: what, problem: 'is invalid' };
    const path = issue.path.map(String).join('.');
    if (issue.code === 'unrecognized_keys') {
        const fields = issue.keys.map((key) => (path ? `${path}.${key}` : key));
        return { subject: what, problem: 'has an unknown field', got: fields.join(', ') };
    }
    const subject = path ? `${what} field ${path}` : what;
    if (issue.code === 'invalid_type' && issue.input === undefined) {
        return { subject, problem: 'is missing' };
    }
    // A name's own check says what it expected and what it got, apart.
    if (issue.code === 'custom' && issue.params !== undefined) {
        return { ...issue.params, subject };
    }
    return { subject, problem: issue.message };
}
/** The `previous` link of a new release: the ID and digest of the release before it. */
function chainTo(previous) {
    if (!previous)
        return null;
    return { id: previous.manifest.id, digest: digestOf(previous.bytes) };
}
/**
 * Checks a release's `previous` link against the release before it, as published: the same
 * ledger, the same ID, and the digest of exactly those bytes. A release changed after its
 * successor was made breaks the link.
 */
function checkPreviousLink(entry, before) {
    const { app, environment, id } = entry.manifest;
    const subject = `release ${app}/${environment}/${id}`;
    const prior = before.manifest;
    if (app !== prior.app || environment !== prior.environment) {
        throw new errors/* ConfigurationError */.j1({
            subject,
            problem: `follows ${prior.app}/${prior.environment}/${prior.id}, a release of another ledger`,
        });
    }
    const link = entry.manifest.previous;
    const expected = chainTo(before);
    if (link === null) {
        throw new errors/* ConfigurationError */.j1({
            subject,
            problem: `names no previous release, but ${prior.id} comes before it; the ledger is broken`,
        });
    }
    if (link.id !== expected?.id) {
        throw new errors/* ConfigurationError */.j1({
            subject,
            problem: `names ${link.id} as its previous release, but ${prior.id} comes before it; the ledger is broken`,
        });
    }
    if (link.digest !== expected.digest) {
        throw new errors/* ConfigurationError */.j1({
            subject,
            problem: `records ${link.id} as ${link.digest}, but ${link.id}'s ${MANIFEST_ASSET} is ${expected.digest}`,
            hint: `${link.id} was changed after ${id} was made`,
        });
    }
}
/**
 * Which config keys differ between two releases, by name only. Secrets are compared by
 * fingerprint, so no value is needed or shown; a key that moves between vars and secrets counts
 * as changed.
 */
function configDiff(previous, next) {
    const before = configIdentity(previous);
    const after = configIdentity(next);
    const added = [];
    const changed = [];
    const removed = [];
    for (const [name, value] of after) {
        const old = before.get(name);
        if (old === undefined)
            added.push(name);
        else if (old !== value)
            changed.push(name);
    }
    for (const name of before.keys())
        if (!after.has(name))
            removed.push(name);
    return { added: added.sort(), changed: changed.sort(), removed: removed.sort() };
}
function configIdentity(manifest) {
    const identity = new Map();
    if (!manifest)
        return identity;
    for (const [name, value] of Object.entries(manifest.config.vars)) {
        identity.set(name, `var:${value}`);
    }
    for (const [name, fingerprint] of Object.entries(manifest.config.secrets?.fingerprints ?? {})) {
        identity.set(name, `secret:${fingerprint}`);
    }
    return identity;
}
const NAMES_SHOWN = 5;
function nameList(names) {
    if (names.length <= NAMES_SHOWN)
        return names.join(', ');
    return `${names.slice(0, NAMES_SHOWN).join(', ')} and ${names.length - NAMES_SHOWN} more`;
}
/**
 * The one-line change summary in Heroku's style: "Deploy 1a2b3c4", "Config add DB_URL, change
 * PORT", "Deploy 1a2b3c4, config remove X", "Initial release of 1a2b3c4", "Rerelease 1a2b3c4".
 */
function changeSummary(previous, next) {
    const short = next.build.sha.slice(0, 7);
    if (!previous)
        return `Initial release of ${short}`;
    const diff = configDiff(previous, next);
    const parts = [
        diff.added.length ? `add ${nameList(diff.added)}` : '',
        diff.changed.length ? `change ${nameList(diff.changed)}` : '',
        diff.removed.length ? `remove ${nameList(diff.removed)}` : '',
    ].filter((part) => part !== '');
    const config = parts.join(', ');
    const deploy = previous.build.sha !== next.build.sha || previous.build.digest !== next.build.digest;
    if (deploy && config)
        return `Deploy ${short}, config ${config}`;
    if (deploy)
        return `Deploy ${short}`;
    if (config)
        return `Config ${config}`;
    return `Rerelease ${short}`;
}

;// CONCATENATED MODULE: ./shared/host/history.ts

const EVENTS = new Set(['activated', 'failed', 'rolled-back', 'release-command-failed']);
/** Events after which a release is not good: it failed to come up, or never got that far. */
function failedEvent(event) {
    return event.event === 'failed' || event.event === 'release-command-failed';
}
/** One JSON line: JSON escapes newlines, so an event can never split the file's lines. */
function historyLine(event) {
    return JSON.stringify(event);
}
/** Reads history lines, skipping what is not an event (a line cut short by a full disk). */
function parseHistory(text) {
    const events = [];
    for (const line of text.split('\n')) {
        if (line.trim() === '')
            continue;
        try {
            const value = JSON.parse(line);
            if (value &&
                typeof value === 'object' &&
                typeof value.event === 'string' &&
                EVENTS.has(value.event) &&
                typeof value.release === 'string' &&
                typeof value.time === 'string') {
                events.push(value);
            }
        }
        catch {
            continue;
        }
    }
    return events;
}
/**
 * The last good release before `current`: walking back, the newest release that became current
 * (activated, or rolled back to) and was not failed or rolled back from afterwards.
 */
function previousGood(history, current, present) {
    const bad = new Set();
    for (let i = history.length - 1; i >= 0; i--) {
        const event = history[i];
        if (!event)
            continue;
        if (failedEvent(event)) {
            bad.add(event.release);
            continue;
        }
        if (event.event === 'rolled-back' && event.from !== undefined) {
            if (event.release !== current && !bad.has(event.release) && available(event.release)) {
                return event.release;
            }
            bad.add(event.from);
            continue;
        }
        if (event.release !== current && !bad.has(event.release) && available(event.release)) {
            return event.release;
        }
    }
    return undefined;
    function available(id) {
        return present === undefined || present.has(id);
    }
}
/**
 * Whether `id` was ever current on the host (activated, or rolled back to): deploying it again is
 * a return to it, whose release command already ran when it first went out.
 */
function wasCurrent(history, id) {
    return history.some((event) => event.release === id && (event.event === 'activated' || event.event === 'rolled-back'));
}
/** What the history says of each release: its last word, and how recently it was spoken. */
function releaseStatuses(history) {
    const statuses = new Map();
    history.forEach((event, index) => {
        statuses.set(event.release, {
            status: failedEvent(event) ? 'failed' : 'good',
            index,
            time: event.time,
        });
    });
    return statuses;
}
/**
 * Releases to delete so that `keep` good ones stay: newest first by history, then those the
 * history never mentions, by number. Never current, never the previous good release; failed
 * releases use up no slot and go only once they are older than the last release kept; below
 * `keep` good releases nothing goes.
 */
function releasesToPrune(options) {
    const { present, current, history, keep } = options;
    const statuses = releaseStatuses(history);
    const previous = previousGood(history, current, new Set(present));
    const ordered = [...present].sort((a, b) => {
        const ia = statuses.get(a)?.index ?? -1;
        const ib = statuses.get(b)?.index ?? -1;
        if (ia !== ib)
            return ib - ia;
        return ((0,shared_names/* releaseNumber */.BP)(b) ?? 0) - ((0,shared_names/* releaseNumber */.BP)(a) ?? 0) || (a < b ? 1 : a > b ? -1 : 0);
    });
    const good = ordered.filter((id) => statuses.get(id)?.status !== 'failed');
    if (good.length <= keep)
        return [];
    const prune = [];
    let slots = 0;
    for (const id of ordered) {
        const failed = statuses.get(id)?.status === 'failed';
        if (id === current || id === previous) {
            if (!failed)
                slots++;
            continue;
        }
        if (failed) {
            if (slots >= keep)
                prune.push(id);
            continue;
        }
        if (slots < keep)
            slots++;
        else
            prune.push(id);
    }
    return prune;
}

// EXTERNAL MODULE: ./shared/host/scripts/root.ts
var scripts_root = __webpack_require__(5128);
;// CONCATENATED MODULE: ./shared/host/scripts/tools.ts

const HASH_COMMAND = {
    sha256sum: 'sha256sum',
    shasum: 'shasum -a 256',
    openssl: 'openssl dgst -sha256 -r',
};
const DECOMPRESS = {
    zstd: 'zstd -q -d -c',
    gzip: 'gzip -d -c',
};
const COMPRESS = { zstd: 'zstd -q -c', gzip: 'gzip -c' };
const INDEX_EXTENSION = { zstd: '.zst', gzip: '.gz' };
/**
 * A file's stamp as GNU find prints it: ctime, inode, size, mtime, mode, then the path. The
 * ctime first: what a stamp is matched by is then the rest of its line, one substr in awk.
 */
const STAMP_FORMAT = '%C@ %i %s %T@ %m';
/** sh lines printing which decompressor, hash tool and find the host has: `tools <d> <h> <f>`. */
function toolsCommands() {
    const first = (variable, tools) => [
        `${variable}=none`,
        `for tool in ${tools.join(' ')}; do`,
        `  if command -v "$tool" >/dev/null 2>&1; then ${variable}=$tool; break; fi`,
        `done`,
    ].join('\n');
    return [
        first('d', ['zstd', 'gzip']),
        first('h', Object.keys(HASH_COMMAND)),
        `f=$(find . -maxdepth 0 -printf '${STAMP_FORMAT} %n\\n' 2>/dev/null)`,
        `printf 'tools %s %s %s\\n' "$d" "$h" "$(printf '%s' "$f" | tr ' ' ,)"`,
    ];
}
/** Reads the line toolsCommands printed. */
function parseHostTools(text) {
    const line = text.split('\n').find((candidate) => candidate.startsWith('tools '));
    const [, decompressor, hash, find] = line?.split(' ') ?? [];
    return {
        decompressor: decompressor === 'zstd' || decompressor === 'gzip' ? decompressor : undefined,
        hash: hash !== undefined && hash in HASH_COMMAND ? hash : undefined,
        stamps: /^[0-9]+\.[0-9]+,[0-9]+,[0-9]+,[0-9]+\.[0-9]+,[0-7]+,[0-9]+$/.test(find ?? ''),
    };
}
/**
 * sh: `index_text <release directory>` prints a release's index as text, from
 * `.release/index.zst`, `.release/index.gz` or `.release/index`; fails when there is none.
 */
const INDEX_TEXT = [
    `index_text() {`,
    `  if [ -f "$1/.release/index.zst" ]; then ${DECOMPRESS.zstd} "$1/.release/index.zst"`,
    `  elif [ -f "$1/.release/index.gz" ]; then ${DECOMPRESS.gzip} "$1/.release/index.gz"`,
    `  elif [ -f "$1/.release/index" ]; then cat "$1/.release/index"`,
    `  else return 1; fi`,
    `}`,
].join('\n');
/**
 * Runs `consumer` on stdin decompressed, failing when either fails: the decompressor's status
 * comes back through fd 3, since POSIX sh has no pipefail.
 */
function decompressed(decompressor, consumer) {
    if (decompressor === undefined)
        return `${consumer} || exit 1`;
    return [
        `status=$( { { ${DECOMPRESS[decompressor]}; printf '%s' "$?" >&3; } | { ${consumer}; } >&2 3>&-; } 3>&1 ) || exit 1`,
        `[ "$status" = 0 ] || ${(0,scripts_root/* fail */.fJ)(1, 'the compressed stream was damaged or cut short')}`,
    ].join('\n');
}

;// CONCATENATED MODULE: ./shared/host/scripts/delta.ts



/*
 * What the host already has, as POSIX sh builders: the tools it offers, the check of its newest
 * release against that release's index (so only what the host lacks travels), the merge of the
 * new release's index from the base's lines and the lines sent, and the stamps that spare the
 * next check from hashing files nothing has touched.
 *
 * The host needs POSIX sh, tar, find, awk and sort; to link files it needs one of sha256sum
 * (GNU coreutils, busybox), shasum (perl, macOS) or openssl; to receive compressed streams,
 * zstd or else gzip. Without a hash tool every file travels; without a decompressor the stream
 * is a plain tar; without GNU find (its -printf) every file of the base is hashed at each check.
 *
 * Stamps. After a release is made (and again after a prune), `.deploy/stamps` records for each
 * of its files the inode, size, mtime, ctime and mode, but only for a file whose bytes are known
 * to be as shipped (just written from the verified stream, or linked from a base file the check
 * passed and whose inode, size, mtime and mode are unchanged since) and whose ctime is older
 * than a marker file made just before the stamps are read. At the next check a file whose five
 * values are still the stamp's is not hashed; any other is. Any change to a file (a write, a
 * truncate, chmod, chown, a link or unlink, a rename over it, which brings another inode) sets
 * its ctime to the time of the change, and no call lets a user set ctime; a change after the
 * stamp was read gets a ctime no earlier than the marker's, later than the stamp's. So a file
 * changed on the host after a deploy is hashed at the next check and travels unless its bytes
 * and mode are still as shipped. What stamps cannot see is a change made during a deploy, after
 * its check, that keeps the inode, size, mode and mtime (bytes rewritten in place and the mtime
 * set back); a check by hashing cannot see a change between the check and the link either.
 * Our own links and unlinks change ctimes too: that is why stamps are taken after the last of
 * them, not carried over.
 */
/**
 * awk: the path after a stamp line's first `fields` fields. Those fields hold no blank, and one
 * space follows each, so the path starts after their lengths: no regular expression, and a path
 * may hold any character but a newline. The passes over every file of a release (SPLIT, STAMP)
 * write such sums out on the fields instead: a function call per line costs them a tenth more.
 */
const AWK_PATH = String.raw `
function path_of(line, fields,   f, at, i) {
  split(line, f, " ")
  at = fields + 1
  for (i = 1; i <= fields; i++) at += length(f[i])
  return substr(line, at)
}
`;
/**
 * Reads the base index's files (those that may be linked: no backslash in the path) and the
 * base's stamps, then its files' stamps now (the listing, on stdin as find writes it). A file
 * whose stamp is unchanged is as shipped: its line goes to `evidence_file`. Any other file the
 * index lists is listed by mode for hashing (0644 and 0755 are the only modes a release's files
 * have; a file with another one is not as shipped) and its line goes to `changed_file`. Last,
 * the index lines of the files not found by their stamps go to `rest_file`: hashed next, or
 * missing. A listing that ends with the line `failed` (find could not list every file) exits 1.
 */
const SPLIT = String.raw `
BEGIN {
  while ((getline line < index_file) > 0) {
    if (++n == 1) continue
    tab = index(line, "\t")
    path = substr(line, 1, tab - 1)
    if (substr(line, tab + 1, 2) == "f\t" && index(path, "\\") == 0) want[path] = line
  }
  if ((getline line < stamps_file) > 0 && line == "release " base)
    while ((getline line < stamps_file) > 0) stamp[line] = 1
}
$0 == "failed" { exit 1 }
{
  path = substr($0, length($1) + length($2) + length($3) + length($4) + length($5) + 6)
  if (!(path in want)) next
  if ($0 in stamp) { print > evidence_file; delete want[path]; next }
  if ($5 == "644" || $5 == "755") { print path > (list $5 ".tmp"); print > changed_file }
}
END { for (path in want) print want[path] > rest_file }
`;
/**
 * Reads `mode <octal>` lines and the hash tool's lines (`<hex>  ./path`, or ` *./path` from
 * openssl), then the index lines of `rest_file` (the index's files not found by their stamps, or
 * the whole index without stamps); prints the plain paths of those files that are not on the
 * host as listed: missing, another kind, another mode or other bytes. A path with a backslash
 * is never compared (it is never linked); names with a newline are never hashed. With
 * `changed_file`, the stamps of the files hashed and found as listed are added to
 * `evidence_file`. After a line `unlisted` (the stamps' listing failed, so what the stamps
 * vouched for is unknown), `rest_file` is the whole index (`index_file`): only a file hashed
 * and found as listed is as shipped.
 */
const UNVERIFIED = String.raw `
${AWK_PATH}
$0 == "unlisted" { rest_file = index_file; changed_file = ""; next }
/^mode [0-7]+$/ { mode = substr($0, 6) + 0; next }
{
  sep = substr($0, 65, 4)
  if (sep != "  ./" && sep != " *./") next
  hex = substr($0, 1, 64)
  if (hex ~ /^[0-9a-f]+$/) hashed[substr($0, 69)] = mode " " hex
}
END {
  while ((getline line < rest_file) > 0) {
    split(line, f, "\t")
    if (f[2] != "f" || index(f[1], "\\") != 0) continue
    if ((f[1] in hashed) && hashed[f[1]] == (f[3] + 0) " " f[5]) ok[f[1]] = 1
    else print f[1]
  }
  if (changed_file != "") while ((getline line < changed_file) > 0)
    if (path_of(line, 5) in ok) print line >> evidence_file
}
`;
/**
 * What a check or stamps never look at, as find's operands: the release's own files, and names
 * with a newline (two lines of a tool's output) or a backslash (never linked). Needs `$newline`.
 */
const SKIP = `\\( -path ./.release -o -path ./.env -o -path "$newline" -o -path '*\\\\*' \\) -prune`;
/** Where the check leaves, for the stamps, what it found as shipped; under the deploy root. */
const EVIDENCE = '.deploy/verified.tmp';
function hashCommands(tools) {
    const hash = HASH_COMMAND[tools.hash];
    const skip = `${SKIP} -o -type f`;
    if (!tools.stamps) {
        return [
            `printf 'mode 644\\n'; find . ${skip} -perm 644 -exec ${hash} {} +`,
            `printf 'mode 755\\n'; find . ${skip} -perm 755 -exec ${hash} {} +`,
        ];
    }
    const hashList = (mode) => `printf 'mode ${mode}\\n'; if [ -s "\${list}${mode}.tmp" ]; then sed 's|^|./|' "\${list}${mode}.tmp" | tr '\\n' '\\000' | xargs -0 ${hash}; fi`;
    const split = `LC_ALL=C awk -v index_file="$index" -v stamps_file=../../.deploy/stamps -v base="$base" -v list="$list" -v evidence_file=../../${EVIDENCE} -v changed_file="$changed" -v rest_file="$rest" ${(0,shared_names/* shellQuote */.ZL)(SPLIT)}`;
    // The listing is read as find writes it. Should either fail, the stamps vouch for nothing:
    // without that line, the files of a listing cut short would be missing from every list, so
    // not hashed, so never reported.
    return [
        `: > "$changed" && : > "$rest" && { find . ${skip} -printf '${STAMP_FORMAT} %P\\n' || echo failed; } | ${split} || { rm -f ../../${EVIDENCE}; echo unlisted; }`,
        hashList('644'),
        hashList('755'),
    ];
}
/**
 * Checks `releases/<base>` against its index (`index_text`) and prints, compressed with the host's
 * own compressor when it has one: the index, a line `<nonce> unverified`, the paths of files
 * that are not as the index says, and `<nonce> end`. Files whose stamps are unchanged are not
 * hashed; the stamps of the files found as shipped are left for the new release's. Exits 79
 * when the base or its index is missing or unreadable (kept with a tool the host no longer has):
 * then everything travels.
 */
function checkBaseScript(root, base, tools, nonce) {
    const unverified = tools.stamps
        ? `-v index_file="$index" -v rest_file="$rest" -v changed_file="$changed" -v evidence_file=../../${EVIDENCE}`
        : `-v rest_file="$index" -v changed_file=`;
    const report = [
        `{`,
        `  cat "$index"`,
        `  printf '%s\\n' ${(0,shared_names/* shellQuote */.ZL)(`${nonce} unverified`)}`,
        `  {`,
        ...hashCommands(tools).map((line) => `    ${line}`),
        `  } | LC_ALL=C awk ${unverified} ${(0,shared_names/* shellQuote */.ZL)(UNVERIFIED)}`,
        `  printf '%s\\n' ${(0,shared_names/* shellQuote */.ZL)(`${nonce} end`)}`,
        `}`,
    ].join('\n');
    return (0,scripts_root/* inRoot */.md)(root, [
        `rm -f ${EVIDENCE} .deploy/check-*.tmp`,
        INDEX_TEXT,
        `cd ${(0,shared_names/* shellQuote */.ZL)(`releases/${base}`)} 2>/dev/null || exit ${scripts_root/* EXIT */.dc.missing}`,
        `index=../../.deploy/check-index.tmp`,
        `index_text . > "$index" || exit ${scripts_root/* EXIT */.dc.missing}`,
        `base=${(0,shared_names/* shellQuote */.ZL)(base)}`,
        `changed=../../.deploy/check-changed.tmp`,
        `rest=../../.deploy/check-rest.tmp`,
        `list=../../.deploy/check-`,
        `newline='*`,
        `*'`,
        tools.decompressor ? `${report} | ${COMPRESS[tools.decompressor]}` : report,
        // The report's status is the script's; what the check wrote for itself goes, the evidence stays.
        `status=$?`,
        `rm -f ../../.deploy/check-*.tmp`,
        `exit "$status"`,
    ]);
}
/**
 * Stamps the files of a release, keeping those of the evidence: a file whose inode, size,
 * mtime and mode are the evidence's (or, just made from the stream, with no other link) and
 * whose ctime is older than the marker's. Reads the evidence first (the file named `evidence`:
 * the check's lines, or stamps that must name `release`), then the listing (the link count, then
 * a stamp), on stdin as find writes it; a listing that ends with the line `failed` exits 1.
 * Both put the ctime first, so what is matched is the rest of a line. Compares ctimes as text
 * (awk's numbers would round them): as one string when both are written alike (find writes ten
 * decimals), else seconds then nanoseconds.
 */
const STAMP = String.raw `
function older(a, b,   ai, bi, af, bf) {
  if (length(a) == length(b) && index(a, ".") == index(b, ".")) return (a "") < (b "")
  ai = a; sub(/\..*$/, "", ai); bi = b; sub(/\..*$/, "", bi)
  if (ai + 0 != bi + 0) return ai + 0 < bi + 0
  af = index(a, ".") ? substr(a, index(a, ".") + 1) : ""
  bf = index(b, ".") ? substr(b, index(b, ".") + 1) : ""
  while (length(af) < 12) af = af "0"
  while (length(bf) < 12) bf = bf "0"
  return af < bf
}
BEGIN { print "release " release; marker = since ""; dot = index(marker, "."); size = length(marker) }
FILENAME == evidence {
  if (FNR == 1 && !fresh) ignored = ($0 != "release " release)
  if (FNR == 1 && !fresh || ignored) next
  known[substr($0, length($1) + 2)] = 1
  next
}
$0 == "failed" { exit 1 }
NF > 6 {
  ctime = $2 ""
  if (length(ctime) == size && index(ctime, ".") == dot) { if (!(ctime < marker)) next }
  else if (!older(ctime, marker)) next
  if (($1 == 1 && fresh) || (substr($0, length($1) + length(ctime) + 3) in known))
    print substr($0, length($1) + 2)
}
`;
/**
 * sh lines, run in the deploy root, that start stamping the files of a release in the
 * background: the host lists them, and writes `.deploy/stamps.tmp` from the listing as it comes,
 * while it does the rest of the release's work. Run after the last of our links and unlinks of
 * its files; the marker made first is what the stamps' ctimes must be older than. The script
 * does not end before the stamping does, whatever way it ends.
 */
function stampListCommands(options) {
    const find = `find . ${SKIP} -o -type f -printf '%n ${STAMP_FORMAT} %P\\n'`;
    const awk = `LC_ALL=C awk -v since="$since" -v release=${options.id} -v evidence="$evidence" -v fresh=${options.fresh ? 1 : 0} ${(0,shared_names/* shellQuote */.ZL)(STAMP)}`;
    return [
        `newline='*`,
        `*'`,
        `evidence=${options.fresh ? EVIDENCE : '.deploy/stamps'}`,
        `[ -f "$evidence" ] || evidence=/dev/null`,
        `stamping=`,
        `if rm -f releases/stamp.tmp .deploy/stamps.tmp && : > releases/stamp.tmp && since=$(find releases/stamp.tmp -printf '%C@'); then`,
        `  ( { (cd ${options.directory} && ${find}) || echo failed; } | ${awk} "$evidence" - > .deploy/stamps.tmp ) &`,
        `  stamping=$!`,
        `  trap 'wait "$stamping"' EXIT`,
        `fi`,
    ];
}
/**
 * sh lines, run in the deploy root after stampListCommands: once the stamping ends, its stamps
 * are the release's. Stamps are a saving, never a condition: when they cannot be written, there
 * are none.
 */
function stampWriteCommands() {
    return [
        `if [ -n "$stamping" ] && wait "$stamping"; then`,
        `  mv .deploy/stamps.tmp .deploy/stamps`,
        `else`,
        `  rm -f .deploy/stamps .deploy/stamps.tmp`,
        `fi`,
        `trap - EXIT`,
        `rm -f releases/stamp.tmp ${EVIDENCE}`,
    ];
}
/** Both halves at once: stamps for a release. */
function stampCommands(options) {
    return [...stampListCommands(options), ...stampWriteCommands()];
}
/**
 * Merges the lines of an index update into a release's index: the base's file lines kept as
 * `how` says (the paths listed before the nonce line are the ones kept, or the ones dropped),
 * plus the lines after the nonce line; sorted byte by byte, as the runner sorts them. The base
 * index is read once, line by line, after the update: never held whole.
 */
const MERGE = String.raw `
!after { if ($0 == marker) after = 1; else listed[$0] = 1; next }
{ print }
END {
  if (base_file != "") while ((getline line < base_file) > 0) {
    if (++n == 1) continue
    tab = index(line, "\t")
    if (substr(line, tab + 1, 2) == "f\t" && ((substr(line, 1, tab - 1) in listed) == (how == "keep"))) print line
  }
}
`;
/**
 * sh lines, run in the release directory, that write `.release/index.tmp` (plain text) from the
 * update read from `input` and the base's index.
 */
function mergeIndexCommands(write, input) {
    if (write.base === undefined) {
        // No base: the update is the nonce line, then every line, sorted already by the runner.
        return [
            `{ printf '%s\\n' ${(0,shared_names/* shellQuote */.ZL)(write.header)}; tail -n +2 ${input}; } > .release/index.tmp || exit 1`,
        ];
    }
    const base = '../../.deploy/merge-base.tmp';
    const awk = `LC_ALL=C awk -v base_file=${base} -v marker=${(0,shared_names/* shellQuote */.ZL)(write.nonce)} -v how=${(0,shared_names/* shellQuote */.ZL)(write.how)} ${(0,shared_names/* shellQuote */.ZL)(MERGE)}`;
    return [
        INDEX_TEXT,
        `merged=no`,
        `index_text ${(0,shared_names/* shellQuote */.ZL)(`../${write.base}`)} > ${base} &&`,
        `  { printf '%s\\n' ${(0,shared_names/* shellQuote */.ZL)(write.header)}; ${awk} ${input} | LC_ALL=C sort; } > .release/index.tmp &&`,
        `  merged=yes`,
        `rm -f ${base}`,
        `[ "$merged" = yes ] || exit 1`,
    ];
}
/** sh lines that fail with EXIT.indexDiffers unless `.release/index.tmp` hashes to `digest`. */
function checkIndexCommands(hash, digest) {
    return [
        `set -- $(${HASH_COMMAND[hash]} .release/index.tmp)`,
        `[ "\${1:-}" = ${(0,shared_names/* shellQuote */.ZL)(digest)} ] || ${(0,scripts_root/* fail */.fJ)(scripts_root/* EXIT */.dc.indexDiffers, 'the index made on the host differs from the bundle')}`,
    ];
}
/**
 * sh lines that keep `.release/index.tmp` as the release's index, compressed with the host's
 * own tool when it has one (an index is megabytes: a release's largest file but its own).
 */
function storeIndexCommands(decompressor) {
    if (decompressor === undefined)
        return [`mv .release/index.tmp .release/index || exit 1`];
    const file = `.release/index${INDEX_EXTENSION[decompressor]}`;
    return [
        `${COMPRESS[decompressor]} < .release/index.tmp > ${file}.tmp && mv ${file}.tmp ${file} || exit 1`,
        `rm -f .release/index.tmp`,
    ];
}
/**
 * Writes the index of `releases/<id>.tmp` whole from the runner's index on stdin (compressed
 * as the host reads streams): when the index merged on the host differed from the runner's.
 */
function writeIndexScript(root, id, tools) {
    return (0,scripts_root/* inRoot */.md)(root, [
        `cd ${(0,shared_names/* shellQuote */.ZL)(`releases/${id}.tmp`)} || exit ${scripts_root/* EXIT */.dc.missing}`,
        `mkdir -p .release || exit 1`,
        decompressed(tools.decompressor, 'cat > .release/index.tmp'),
        ...storeIndexCommands(tools.decompressor),
    ]);
}

;// CONCATENATED MODULE: ./shared/host/scripts/lock.ts



/**
 * The file that says who owns the lock: `owner-<hash of the token>`. Ownership passes by
 * renaming it, and rename(2) is atomic: of two deploys taking over the same dead lock, one wins.
 */
function ownerFile(token) {
    return `.deploy/lock/owner-${(0,external_node_crypto_.createHash)('sha256').update(token).digest('hex').slice(0, 32)}`;
}
/** Prints the owner files' hashes, one per line: how a lock's owner is named to a taker. */
const PRINT_OWNER = `for f in .deploy/lock/owner-*; do [ -f "$f" ] && printf '%s\\n' "\${f#.deploy/lock/owner-}"; done`;
function writeHeartbeat(token) {
    const tmp = (0,shared_names/* shellQuote */.ZL)(`.deploy/lock/heartbeat.tmp-${ownerFile(token).slice(-8)}`);
    return `date +%s > ${tmp} && mv ${tmp} .deploy/lock/heartbeat`;
}
/**
 * Takes the lock. It is made whole (owner, who, heartbeat) in `.deploy/lock.new-<id>`, then
 * renamed into place: rename(2) of a directory onto a name that does not exist is atomic, and
 * when `.deploy/lock` exists, POSIX mv moves ours inside it instead, which tells us we lost. So
 * a lock is never seen half-written, and a deploy killed at any point leaves either no lock or a
 * whole one whose heartbeat goes stale. A loser exits with EXIT.lockHeld and prints the holder,
 * its owner, its heartbeat and the host's clock.
 */
function acquireLockScript(root, record, token, nonce) {
    const id = ownerFile(token).slice(-32);
    const fresh = (0,shared_names/* shellQuote */.ZL)(`.deploy/lock.new-${id}`);
    const nested = (0,shared_names/* shellQuote */.ZL)(`.deploy/lock/lock.new-${id}`);
    const owner = (0,shared_names/* shellQuote */.ZL)(ownerFile(token).replace('.deploy/lock/', `.deploy/lock.new-${id}/`));
    return (0,scripts_root/* inRoot */.md)(root, [
        `mkdir -p .deploy || exit 1`,
        `rm -rf ${fresh} && mkdir ${fresh} || exit 1`,
        `printf '%s\\n' ${(0,shared_names/* shellQuote */.ZL)(JSON.stringify(record))} > ${fresh}/info && : > ${owner} && date +%s > ${fresh}/heartbeat || { rm -rf ${fresh}; exit 1; }`,
        `if [ ! -e .deploy/lock ] && mv ${fresh} .deploy/lock 2>/dev/null && [ -f ${(0,shared_names/* shellQuote */.ZL)(ownerFile(token))} ]; then exit 0; fi`,
        `rm -rf ${fresh} ${nested} 2>/dev/null`,
        // Released between the two looks: the caller tries again at once.
        `if [ ! -d .deploy/lock ]; then ${(0,scripts_root/* section */.uW)(nonce, 'gone')}; exit ${scripts_root/* EXIT */.dc.lockHeld}; fi`,
        (0,scripts_root/* section */.uW)(nonce, 'info'),
        `cat .deploy/lock/info 2>/dev/null`,
        (0,scripts_root/* section */.uW)(nonce, 'owner'),
        PRINT_OWNER,
        (0,scripts_root/* section */.uW)(nonce, 'heartbeat'),
        `cat .deploy/lock/heartbeat 2>/dev/null`,
        (0,scripts_root/* section */.uW)(nonce, 'now'),
        `date +%s`,
        `exit ${scripts_root/* EXIT */.dc.lockHeld}`,
    ], true);
}
/**
 * Takes over a lock whose heartbeat is older than `staleSeconds` on the host's clock, owned by
 * `owner` (the hash `acquireLockScript` printed): checks the heartbeat again, then renames the
 * owner's file to ours, so only one taker wins, and a lock that changed hands meanwhile is left
 * alone. A lock without an owner file (made by an older version) is moved aside whole. Exits 0
 * once the lock is ours, EXIT.lockHeld when it is not to be taken (fresh again, or taken first).
 */
function takeOverLockScript(root, options) {
    const { record, token, owner, staleSeconds } = options;
    const stale = [
        `beat=$(cat .deploy/lock/heartbeat 2>/dev/null)`,
        `case "$beat" in ''|*[!0-9]*) beat=0 ;; esac`,
        `[ $(( $(date +%s) - beat )) -gt ${Math.floor(staleSeconds)} ] || exit ${scripts_root/* EXIT */.dc.lockHeld}`,
    ];
    if (owner === undefined || !/^[0-9a-f]{32}$/.test(owner)) {
        const aside = (0,shared_names/* shellQuote */.ZL)(`.deploy/lock.stale-${ownerFile(token).slice(-12)}`);
        return (0,scripts_root/* inRoot */.md)(root, [
            `[ -d .deploy/lock ] || exit ${scripts_root/* EXIT */.dc.lockHeld}`,
            `for f in .deploy/lock/owner-*; do [ -f "$f" ] && exit ${scripts_root/* EXIT */.dc.lockHeld}; done`,
            ...stale,
            `mv .deploy/lock ${aside} 2>/dev/null`,
            `exit ${scripts_root/* EXIT */.dc.lockHeld}`,
        ]);
    }
    return (0,scripts_root/* inRoot */.md)(root, [
        `[ -f .deploy/lock/owner-${owner} ] || exit ${scripts_root/* EXIT */.dc.lockHeld}`,
        ...stale,
        `mv .deploy/lock/owner-${owner} ${(0,shared_names/* shellQuote */.ZL)(ownerFile(token))} 2>/dev/null || exit ${scripts_root/* EXIT */.dc.lockHeld}`,
        writeHeartbeat(token),
        `printf '%s\\n' ${(0,shared_names/* shellQuote */.ZL)(JSON.stringify(record))} > .deploy/lock/info.tmp && mv .deploy/lock/info.tmp .deploy/lock/info`,
        `exit 0`,
    ]);
}
/** A check that the lock is still ours: a script that changes `current` runs only while it is. */
function lockIsOurs(token, onLost = `exit ${scripts_root/* EXIT */.dc.lockLost}`) {
    return `[ -f ${(0,shared_names/* shellQuote */.ZL)(ownerFile(token))} ] || ${onLost}`;
}
/** Keeps the lock fresh; fails with EXIT.lockLost when the lock is no longer ours. */
function heartbeatScript(root, token) {
    return (0,scripts_root/* inRoot */.md)(root, [lockIsOurs(token), writeHeartbeat(token)]);
}
/**
 * Releases the lock if it is still ours (a lock another deploy holds now stays with it), and
 * removes what an interrupted step left (`releases/*.tmp`, half-made links): while we hold the
 * lock, nobody else is making any. Ownership is given up by a rename first, so a deploy taking
 * the lock over at that moment never has its fresh lock removed.
 */
function releaseLockScript(root, token) {
    const released = (0,shared_names/* shellQuote */.ZL)(`.deploy/lock/released-${ownerFile(token).slice(-32)}`);
    return (0,scripts_root/* inRoot */.md)(root, [
        `[ -d .deploy/lock ] || exit 0`,
        `mv ${(0,shared_names/* shellQuote */.ZL)(ownerFile(token))} ${released} 2>/dev/null || exit ${scripts_root/* EXIT */.dc.lockLost}`,
        `rm -rf releases/*.tmp current.tmp-* .deploy/lock`,
    ]);
}
/**
 * Removes the lock by hand (`brr unlock`), only while it is still the one that was looked at:
 * its `info` unchanged. A lock that changed hands meanwhile stays, and the script exits with
 * EXIT.lockHeld; no lock at all is success.
 */
function breakLockScript(root, info) {
    return inRoot(root, [
        `[ -d .deploy/lock ] || exit 0`,
        `[ "$(cat .deploy/lock/info 2>/dev/null)" = ${q(info)} ] || exit ${EXIT.lockHeld}`,
        `rm -rf .deploy/lock`,
    ]);
}

;// CONCATENATED MODULE: ./shared/host/scripts/release.ts






/**
 * A release ID safe as a directory name; `.tmp` is kept for releases being received. Checked
 * where an ID enters the host layer, since some come back from a host (what `current` names).
 */
function checkReleaseId(id) {
    const parsed = shared_names/* releaseId */.Bf.safeParse(id);
    if (!parsed.success || id.endsWith('.tmp')) {
        throw new errors/* ConfigurationError */.j1({
            subject: 'release ID',
            expected: "letters, digits, '.', '_' or '-' (like v12), not ending in .tmp",
            got: JSON.stringify(id),
        });
    }
    return id;
}
const release = (id) => (0,shared_names/* shellQuote */.ZL)(`releases/${id}`);
const incoming = (id) => (0,shared_names/* shellQuote */.ZL)(`releases/${id}.tmp`);
function linkTarget(sharedPath) {
    const depth = sharedPath.split('/').length;
    return `${'../'.repeat(depth + 1)}shared/${sharedPath}`;
}
/**
 * sh lines, run in the deploy root: link the shared paths into the release being received and
 * clear the way for it; then, with stamps, start listing its files. A release replaced is
 * removed before the listing: unlinking its files changes the ctime of those it shares with
 * the new one, and stamps listed before would not match them.
 */
function prepareCommands(options) {
    const { id } = options;
    const links = options.sharedPaths.flatMap((entry) => {
        const inRelease = (0,shared_names/* shellQuote */.ZL)(`releases/${id}.tmp/${entry}`);
        const parent = (0,shared_names/* shellQuote */.ZL)(`releases/${id}.tmp/${entry.split('/').slice(0, -1).join('/')}`);
        return [
            `mkdir -p ${(0,shared_names/* shellQuote */.ZL)(`shared/${entry}`)} || exit 1`,
            `rm -rf ${inRelease} && mkdir -p ${parent} && ln -s ${(0,shared_names/* shellQuote */.ZL)(linkTarget(entry))} ${inRelease} || exit 1`,
        ];
    });
    return [
        `[ -d ${incoming(id)} ] || ${(0,scripts_root/* fail */.fJ)(scripts_root/* EXIT */.dc.missing, `releases/${id}.tmp is missing`)}`,
        ...links,
        ...(options.replace ? [`rm -rf ${release(id)} || exit 1`] : []),
        ...(options.stamps
            ? stampListCommands({ directory: incoming(id), id: (0,shared_names/* shellQuote */.ZL)(id), fresh: true })
            : []),
    ];
}
/** sh lines, run in the deploy root after prepareCommands: stamp the release, rename it into place. */
function installCommands(options) {
    const { id } = options;
    return [
        ...(options.stamps ? stampWriteCommands() : []),
        `mv ${incoming(id)} ${release(id)} || exit 1`,
    ];
}
/** Installs a release received whole but for its index: after the index was written again. */
function installScript(root, options) {
    return (0,scripts_root/* inRoot */.md)(root, [...prepareCommands(options), ...installCommands(options)]);
}
/**
 * Makes a release from the stream on stdin, unpacked into a new `releases/<id>.tmp` (in it, or
 * in `releases/` taking only names under it; never as the archive's owners, with the bundle's
 * modes whatever the deploy user's umask): then, if the stream was whole (its last file holds
 * the nonce), its index merged from the base's and checked against the runner's, its shared
 * paths linked, its files stamped, and renamed into place. A stream cut short, even at an
 * entry's end (which tar takes for a whole archive), leaves only `<id>.tmp`; an index that
 * differs exits EXIT.indexDiffers before the install.
 */
function receiveScript(root, options) {
    const { id, nonce } = options;
    return (0,scripts_root/* inRoot */.md)(root, [
        `command -v tar >/dev/null 2>&1 || ${(0,scripts_root/* fail */.fJ)(scripts_root/* EXIT */.dc.noTar, 'tar is not installed or not on the PATH')}`,
        `mkdir -p releases shared .deploy && cd releases || exit 1`,
        `rm -rf ${(0,shared_names/* shellQuote */.ZL)(`${id}.tmp`)} && mkdir ${(0,shared_names/* shellQuote */.ZL)(`${id}.tmp`)} || exit 1`,
        // The bundle's modes, whatever the deploy user's umask: files of this release are checked
        // against them before they are linked into the next.
        `umask 022`,
        decompressed(options.decompressor, options.relative ? `tar -xof - -C ${(0,shared_names/* shellQuote */.ZL)(`${id}.tmp`)}` : `tar -xof - ${(0,shared_names/* shellQuote */.ZL)(`${id}.tmp`)}`),
        `cd ${(0,shared_names/* shellQuote */.ZL)(`${id}.tmp`)} || exit 1`,
        `[ "$(cat .release/complete 2>/dev/null)" = ${(0,shared_names/* shellQuote */.ZL)(nonce)} ] || ${(0,scripts_root/* fail */.fJ)(scripts_root/* EXIT */.dc.cutShort, 'the release stream was cut short')}`,
        `rm -f .release/complete`,
        // Its files are all there: the host lists them for the stamps while the index is made.
        `cd ../.. || exit 1`,
        ...prepareCommands(options),
        `cd ${(0,shared_names/* shellQuote */.ZL)(`releases/${id}.tmp`)} || exit 1`,
        ...mergeIndexCommands({ ...options.index, nonce }, '.release/index.update'),
        `rm -f .release/index.update`,
        ...(options.indexDigest
            ? checkIndexCommands(options.indexDigest.hash, options.indexDigest.hex)
            : []),
        ...storeIndexCommands(options.decompressor),
        `cd ../.. || exit 1`,
        ...installCommands(options),
    ], true);
}
/**
 * Points `current` at a release in one rename(2): a new link, renamed over the old one. `mv -T`
 * is GNU, `mv -h` is BSD; plain POSIX mv would move the link into the directory `current` points
 * to, so without either it falls back to perl's or python's rename, and refuses rather than
 * unlinking first. With `token`, the switch happens only while the lock is ours.
 */
function switchScript(root, id, suffix, token) {
    const link = (0,shared_names/* shellQuote */.ZL)(`current.tmp-${suffix}`);
    return (0,scripts_root/* inRoot */.md)(root, [
        ...(token === undefined
            ? []
            : [
                lockIsOurs(token, (0,scripts_root/* fail */.fJ)(scripts_root/* EXIT */.dc.lockLost, 'the deploy lock is no longer held by this deploy')),
            ]),
        `[ -d ${release(id)} ] || ${(0,scripts_root/* fail */.fJ)(scripts_root/* EXIT */.dc.missing, `releases/${id} is missing`)}`,
        `rm -f ${link} && ln -s ${release(id)} ${link} || exit 1`,
        `if [ ! -e current ] && [ ! -h current ]; then mv ${link} current && exit 0; rm -f ${link}; exit 1; fi`,
        `if [ -d current ] && [ ! -h current ]; then rm -f ${link}; ${(0,scripts_root/* fail */.fJ)(1, 'current is a directory, not a link: move it away first')}; fi`,
        `mv -T ${link} current 2>/dev/null && exit 0`,
        `mv -h ${link} current 2>/dev/null && exit 0`,
        `perl -e 'rename($ARGV[0], $ARGV[1]) or exit 1' ${link} current 2>/dev/null && exit 0`,
        `python3 -c 'import os, sys; os.replace(sys.argv[1], sys.argv[2])' ${link} current 2>/dev/null && exit 0`,
        `rm -f ${link}`,
        (0,scripts_root/* fail */.fJ)(scripts_root/* EXIT */.dc.noAtomicRename, 'cannot replace the current link atomically: the host needs GNU mv (-T), BSD mv (-h), perl or python3'),
    ]);
}
/** Nothing is current: for a first deploy that failed, so nothing broken stays current. */
function unsetCurrentScript(root) {
    return (0,scripts_root/* inRoot */.md)(root, [`rm -f current`]);
}
/**
 * Deletes releases; checks on the host too that none is what `current` points to. Deleting
 * unlinks files the releases kept share, which changes their ctimes: with `stamps`, current's
 * stamps are taken again.
 */
function pruneScript(root, ids, stamps) {
    const restamp = [
        `id=\${now#releases/}`,
        `if [ "$(head -n 1 .deploy/stamps 2>/dev/null)" = "release $id" ] && [ -d "releases/$id" ]; then`,
        ...stampCommands({ directory: '"releases/$id"', id: '"$id"', fresh: false }),
        `fi`,
    ];
    return (0,scripts_root/* inRoot */.md)(root, [
        `now=$(${scripts_root/* READ_CURRENT */.TC})`,
        ...ids.map((id) => `[ "$now" = ${release(id)} ] || rm -rf ${release(id)} || exit 1`),
        ...(stamps ? restamp : []),
    ]);
}

// EXTERNAL MODULE: external "node:os"
var external_node_os_ = __webpack_require__(8161);
// EXTERNAL MODULE: external "node:timers/promises"
var promises_ = __webpack_require__(8500);
;// CONCATENATED MODULE: ./shared/host/scripts/inspect.ts



/** Lines of history read back: enough for `previous` and pruning. */
const HISTORY_TAIL = 1000;
/**
 * Reports the host's state in sections: the tools a transfer uses, current target, each release
 * with its manifest, the leftovers of interrupted deploys, the lock, the history tail and
 * whether tar is there.
 */
function inspectScript(root, nonce) {
    return [
        'set -u',
        (0,scripts_root/* section */.uW)(nonce, 'tools'),
        ...toolsCommands(),
        `cd ${(0,shared_names/* shellQuote */.ZL)(root)} 2>/dev/null || { ${(0,scripts_root/* section */.uW)(nonce, 'absent')}; exit 0; }`,
        `if [ -d .deploy ] || [ -d releases ]; then ${(0,scripts_root/* section */.uW)(nonce, 'deploy-root')}; fi`,
        (0,scripts_root/* section */.uW)(nonce, 'current'),
        scripts_root/* READ_CURRENT */.TC,
        `for d in releases/*; do`,
        `  [ -d "$d" ] && [ ! -h "$d" ] || continue`,
        `  ${(0,scripts_root/* section */.uW)(nonce, 'release')}`,
        `  printf '%s' "\${d#releases/}"`,
        `  if [ -f "$d/.release/release.json" ]; then ${(0,scripts_root/* section */.uW)(nonce, 'manifest')}; cat "$d/.release/release.json"; fi`,
        `  if [ -f "$d/.release/release.json.sig" ]; then ${(0,scripts_root/* section */.uW)(nonce, 'signature')}; cat "$d/.release/release.json.sig"; fi`,
        `done`,
        `if [ -d .deploy/lock ]; then`,
        `  ${(0,scripts_root/* section */.uW)(nonce, 'lock')}`,
        `  cat .deploy/lock/info 2>/dev/null`,
        `  ${(0,scripts_root/* section */.uW)(nonce, 'lock-heartbeat')}`,
        `  cat .deploy/lock/heartbeat 2>/dev/null`,
        `fi`,
        (0,scripts_root/* section */.uW)(nonce, 'now'),
        `date +%s`,
        (0,scripts_root/* section */.uW)(nonce, 'history'),
        `tail -n ${HISTORY_TAIL} .deploy/history 2>/dev/null`,
        (0,scripts_root/* section */.uW)(nonce, 'tar'),
        `command -v tar 2>/dev/null`,
        (0,scripts_root/* section */.uW)(nonce, 'end'),
        '',
    ].join('\n');
}
/** Seconds since the epoch as a script printed them (`date +%s`), or undefined. */
function seconds(text) {
    const trimmed = text.trim();
    return /^[0-9]+$/.test(trimmed) ? Number(trimmed) : undefined;
}
/** The release ID a `current` link names: `releases/<id>`, relative or under the root. */
function currentRelease(target) {
    const match = /(?:^|\/)releases\/([^/]+)\/?$/.exec(target);
    return match?.[1];
}
function parseInspect(stdout, nonce) {
    const snapshot = {
        exists: true,
        deployRoot: false,
        current: undefined,
        releases: [],
        leftovers: [],
        lock: undefined,
        now: undefined,
        history: '',
        tar: false,
        tools: { decompressor: undefined, hash: undefined, stamps: false },
    };
    let ended = false;
    let lastRelease;
    for (const { name, body } of (0,scripts_root/* parseSections */.MJ)(stdout, nonce)) {
        const text = body.toString('utf8');
        switch (name) {
            case 'tools':
                snapshot.tools = parseHostTools(text);
                break;
            case 'absent':
                snapshot.exists = false;
                ended = true;
                break;
            case 'deploy-root':
                snapshot.deployRoot = true;
                break;
            case 'current':
                snapshot.current = currentRelease(text.replace(/\n$/, ''));
                break;
            case 'release':
                lastRelease = text.endsWith('.tmp')
                    ? undefined
                    : { id: text, manifest: undefined, signature: undefined };
                if (lastRelease)
                    snapshot.releases.push(lastRelease);
                else
                    snapshot.leftovers.push(text);
                break;
            case 'manifest':
                if (lastRelease)
                    lastRelease.manifest = body;
                break;
            case 'signature':
                if (lastRelease)
                    lastRelease.signature = body;
                break;
            case 'lock':
                snapshot.lock = { info: text.trim(), heartbeat: undefined };
                break;
            case 'lock-heartbeat':
                if (snapshot.lock)
                    snapshot.lock.heartbeat = seconds(text);
                break;
            case 'now':
                snapshot.now = seconds(text);
                break;
            case 'history':
                snapshot.history = text;
                break;
            case 'tar':
                snapshot.tar = text.trim() !== '';
                break;
            case 'end':
                ended = true;
                break;
        }
    }
    if (!ended)
        throw new Error('the host state report was cut short');
    return snapshot;
}

;// CONCATENATED MODULE: ./shared/host/lock-state.ts
/** What a lock's info, heartbeat and the host's clock say of it. */
function describeLock(info, heartbeat, now, staleSeconds) {
    let record;
    try {
        record = JSON.parse(info) ?? {};
    }
    catch {
        record = {};
    }
    const age = heartbeat !== undefined && now !== undefined ? Math.max(0, now - heartbeat) : undefined;
    const holder = typeof record.holder === 'string'
        ? `${record.holder}${record.machine ? ` on ${record.machine}` : ''}${record.pid ? ` (pid ${record.pid})` : ''}`
        : 'an unknown deploy';
    return {
        holder,
        run: typeof record.run === 'string' ? record.run : undefined,
        started: typeof record.started === 'string' ? record.started : undefined,
        heartbeatAgeSeconds: age,
        // Every lock is made with its heartbeat: one without is left by an older version, or broken.
        stale: heartbeat === undefined || (age !== undefined && age > staleSeconds),
    };
}
/** Why a deploy cannot take the lock, and what to do about it. */
function lockProblem(lock, waited) {
    const since = lock.started ? ` since ${lock.started}` : '';
    const run = lock.run ? ` (${lock.run})` : '';
    const held = `deploy lock held by ${lock.holder}${since}${run}`;
    if (lock.stale) {
        return {
            problem: `${held} is silent (no heartbeat for ${lock.heartbeatAgeSeconds ?? '?'} s): the next deploy takes it over`,
        };
    }
    return waited > 0
        ? { problem: `${held}; waited ${waited} s` }
        : { problem: held, hint: 'set lock-timeout to wait for it' };
}

;// CONCATENATED MODULE: ./shared/host/session.ts








const DEFAULT_STALE_SECONDS = 30;
/** One host, one deploy: runs scripts and turns their failures into errors naming the host. */
class HostSession {
    transport;
    options;
    root;
    log;
    /** Bytes this session sent; the transport's own count also holds other deploys sharing it. */
    sent = 0;
    /** Milliseconds spent waiting for the caller's `beforeChange`: not the host's own time. */
    waitedMs = 0;
    /** When the step began, `Date.now()`: what the host's time is counted from. */
    started = Date.now();
    constructor(transport, options) {
        this.transport = transport;
        this.options = options;
        this.root = (0,scripts_root/* deployRoot */.CB)(options.root);
        this.log = options.log;
    }
    get label() {
        return this.transport.label;
    }
    get reconnect() {
        return this.options.reconnect;
    }
    phase(phase) {
        this.log.info(`host ${this.label}: ${phase}`);
        this.options.onPhase?.(phase);
    }
    /** An error about this host. */
    error(problem) {
        return new errors/* ConfigurationError */.j1({ subject: `host ${this.label}`, ...problem });
    }
    /** Awaits the caller's hook before the first change, keeping its time out of the host's. */
    async beforeChange(hook) {
        if (!hook)
            return;
        const started = Date.now();
        try {
            await hook();
        }
        finally {
            this.waitedMs += Date.now() - started;
        }
    }
    async exec(script, options) {
        const result = await this.transport.exec(script, options);
        this.sent += result.bytesSent;
        return result;
    }
    /** Runs a step that must succeed; its failure is the user's to fix (disk, permissions, tools). */
    async must(what, script, options) {
        const result = await this.exec(script, options);
        if (result.code !== 0)
            throw this.failure(what, result);
        return result;
    }
    failure(what, result) {
        const stderr = result.stderr.toString('utf8');
        // GNU tar reports a full disk as a short write, without the errno text.
        if (/No space left on device|Disk quota exceeded|Wrote only [0-9]+ of [0-9]+ bytes|short write/i.test(stderr)) {
            return this.error({ problem: `no space left on device under ${this.root} while ${what}` });
        }
        if (result.code === scripts_root/* EXIT */.dc.noTar && /tar is not installed/.test(stderr))
            return this.noTar();
        const last = stderr.trim().split('\n').slice(-1)[0] ?? '';
        const status = result.code !== null
            ? `exit ${result.code}`
            : result.signal !== null
                ? `signal ${result.signal}`
                : 'no exit status: the connection dropped';
        return this.error({
            problem: `${what} failed (${status})${last ? `: ${(0,errors/* foldedTail */.J4)(last, 300)}` : ''}`,
        });
    }
    noTar() {
        return this.error({
            problem: 'tar is not installed or not on the PATH',
            hint: 'the host needs POSIX sh and tar',
        });
    }
    async inspect() {
        const nonce = (0,external_node_crypto_.randomBytes)(12).toString('hex');
        const result = await this.must('reading the deploy directory', inspectScript(this.root, nonce));
        return parseInspect(result.stdout, nonce);
    }
    /** Runs `body` holding the host's deploy lock, kept fresh by a heartbeat; always releases it. */
    async withLock(lock, releaseId, body) {
        const held = await this.hold(lock, releaseId);
        try {
            return await body(held.token);
        }
        finally {
            await held.release();
        }
    }
    /**
     * Takes the host's deploy lock and keeps its heartbeat going until `release()`: for a lock held
     * across steps that run on other hosts in between (the release phase).
     */
    async hold(lock, releaseId) {
        this.phase('lock');
        const staleSeconds = lock.staleSeconds ?? DEFAULT_STALE_SECONDS;
        const token = await acquireLock(this, lock, releaseId, staleSeconds);
        const stop = startHeartbeat(this, token, staleSeconds);
        let released;
        return {
            token,
            release: () => {
                stop();
                return (released ??= releaseLock(this, token, staleSeconds));
            },
        };
    }
}
/** Takes over a stale lock at most this often in one attempt, so a lock that cannot be moved ends it. */
const TAKEOVER_ATTEMPTS = 5;
/**
 * Takes the lock, or waits for it up to `waitSeconds`. A lock whose heartbeat is older than
 * `staleSeconds` is dead (its deploy was killed, or lost its connection): it is taken over. A
 * holder that missed a beat or two is waited for until it is stale, whatever `waitSeconds` says,
 * so the deploy after a killed one needs nobody to clear its lock.
 */
async function acquireLock(session, options, releaseId, staleSeconds) {
    const token = (0,external_node_crypto_.randomUUID)();
    const record = {
        holder: options.holder,
        ...(options.run ? { run: options.run } : {}),
        pid: process.pid,
        machine: (0,external_node_os_.hostname)(),
        started: new Date().toISOString(),
        ...(releaseId ? { release: releaseId } : {}),
    };
    const started = Date.now();
    let takeovers = 0;
    for (;;) {
        const nonce = (0,external_node_crypto_.randomBytes)(12).toString('hex');
        const result = await session.exec(acquireLockScript(session.root, record, token, nonce));
        if (result.code === 0)
            return token;
        if (result.code !== scripts_root/* EXIT */.dc.lockHeld)
            throw session.failure('taking the deploy lock', result);
        const sections = new Map((0,scripts_root/* parseSections */.MJ)(result.stdout, nonce).map((s) => [s.name, s.body.toString('utf8')]));
        if (sections.has('gone'))
            continue;
        const lock = describeLock((sections.get('info') ?? '').trim(), seconds(sections.get('heartbeat') ?? ''), seconds(sections.get('now') ?? ''), staleSeconds);
        if (lock.stale && takeovers < TAKEOVER_ATTEMPTS) {
            takeovers++;
            const owner = (sections.get('owner') ?? '').trim().split('\n')[0] || undefined;
            const taken = await session.exec(takeOverLockScript(session.root, { record, token, owner, staleSeconds }));
            if (taken.code === 0) {
                session.log.info(`host ${session.label}: took over the deploy lock of ${lock.holder}, silent for ${lock.heartbeatAgeSeconds ?? '?'} s`);
                return token;
            }
            if (taken.code !== scripts_root/* EXIT */.dc.lockHeld)
                throw session.failure('taking over a dead deploy lock', taken);
            continue;
        }
        const age = lock.heartbeatAgeSeconds ?? 0;
        const missedBeats = !lock.stale && age > staleSeconds / 2;
        const deadline = Math.max(started + options.waitSeconds * 1000, missedBeats ? Date.now() + (staleSeconds - age + 1) * 1000 : 0);
        const remaining = deadline - Date.now();
        if (remaining <= 0 || lock.stale) {
            const waited = Math.round((Date.now() - started) / 1000);
            throw session.error(lockProblem(lock, waited));
        }
        await (0,promises_.setTimeout)(Math.min(1000, remaining));
    }
}
/** How often the holder refreshes its heartbeat: a quarter of the stale age, so a few may miss. */
function heartbeatMs(staleSeconds) {
    return Math.max(500, Math.min(30_000, (staleSeconds * 1000) / 4));
}
/** Refreshes the heartbeat every quarter of the stale age; returns what stops it. */
function startHeartbeat(session, token, staleSeconds) {
    let lost = false;
    const timer = setInterval(() => {
        session
            .exec(heartbeatScript(session.root, token))
            .then((result) => {
            if (result.code === scripts_root/* EXIT */.dc.lockLost && !lost) {
                lost = true;
                session.log.info(`host ${session.label}: the deploy lock was taken over by another deploy (no heartbeat reached the host for ${staleSeconds} s)`);
            }
        })
            .catch((error) => {
            session.log.debug(`host ${session.label}: heartbeat failed: ${String(error)}`);
        });
    }, heartbeatMs(staleSeconds));
    timer.unref();
    return () => clearInterval(timer);
}
/**
 * Releases the lock and cleans what the step left half-made. When the connection is gone, it
 * connects again to do so; when it cannot, the lock stays until its heartbeat is stale and the
 * next deploy takes it over (and cleans up).
 */
async function releaseLock(session, token, staleSeconds) {
    session.phase('unlock');
    const script = releaseLockScript(session.root, token);
    let result;
    try {
        result = await session.exec(script);
    }
    catch (error) {
        const reconnect = session.reconnect;
        const left = `the deploy lock stays until it has had no heartbeat for ${staleSeconds} s; the next deploy then takes it over`;
        if (!reconnect) {
            session.log.info(`host ${session.label}: could not release the deploy lock (${(0,errors/* formatError */.Wk)(error)}); ${left}`);
            return;
        }
        try {
            result = await (await reconnect()).exec(script);
            session.log.info(`host ${session.label}: connected again to release the deploy lock`);
        }
        catch (again) {
            session.log.info(`host ${session.label}: could not connect again to release the deploy lock (${(0,errors/* formatError */.Wk)(again)}); ${left}`);
            return;
        }
    }
    // lockLost: another deploy holds it now; missing: the root is gone (destroyed).
    if (result.code !== 0 && result.code !== scripts_root/* EXIT */.dc.lockLost && result.code !== scripts_root/* EXIT */.dc.missing) {
        session.log.info(`host ${session.label}: could not release the deploy lock (exit ${result.code})`);
    }
}

;// CONCATENATED MODULE: ./shared/host/state.ts






/** The bundle digest a release.json names, read without trusting it: for display and history. */
function manifestBuildDigest(manifest) {
    if (!manifest)
        return undefined;
    try {
        const value = JSON.parse(manifest.toString('utf8'));
        const digest = value?.build?.digest;
        return typeof digest === 'string' ? digest : undefined;
    }
    catch {
        return undefined;
    }
}
function hostState(label, snapshot, staleSeconds) {
    const history = parseHistory(snapshot.history);
    const statuses = releaseStatuses(history);
    const present = new Set(snapshot.releases.map((r) => r.id));
    return {
        host: label,
        exists: snapshot.exists,
        current: snapshot.current,
        previous: previousGood(history, snapshot.current, present),
        releases: snapshot.releases.map((r) => ({
            id: r.id,
            digest: manifestBuildDigest(r.manifest),
            manifestDigest: r.manifest ? digestOf(r.manifest) : undefined,
            manifest: r.manifest,
            signature: r.signature,
            status: statuses.get(r.id)?.status ?? 'unknown',
            lastEvent: statuses.get(r.id)?.time,
        })),
        history,
        lock: snapshot.lock
            ? describeLock(snapshot.lock.info, snapshot.lock.heartbeat, snapshot.now, staleSeconds)
            : undefined,
        leftovers: snapshot.leftovers,
        tar: snapshot.tar,
    };
}
/** What is on the host: current, the releases with their digests, the history, the lock. Read only. */
async function readHostState(transport, options) {
    const session = new HostSession(transport, options);
    const snapshot = await session.inspect();
    return hostState(transport.label, snapshot, options.staleSeconds ?? DEFAULT_STALE_SECONDS);
}
/** A dry run: what a deploy of `release` would upload, switch and prune. Changes nothing. */
async function dryRunHost(transport, options) {
    const id = checkReleaseId(options.release.id);
    const session = new HostSession(transport, options);
    const snapshot = await session.inspect();
    const state = hostState(transport.label, snapshot, options.staleSeconds ?? DEFAULT_STALE_SECONDS);
    const existing = state.releases.find((r) => r.id === id);
    const same = existing?.manifestDigest === digestOf(options.release.manifestBytes);
    const upload = same ? 'skip' : existing ? 'replace' : 'upload';
    const problems = [];
    if (upload !== 'skip' && !snapshot.tar)
        problems.push('tar is not installed or not on the PATH');
    if (upload === 'replace' && state.current === id) {
        problems.push(`releases/${id} is current but holds a different release.json`);
    }
    // The host is named where the problem is shown: the problem alone.
    if (state.lock)
        problems.push(new errors/* ConfigurationError */.j1(lockProblem(state.lock, 0)).message);
    const present = [...new Set(snapshot.releases.map((r) => r.id).concat(id))];
    const event = { event: 'activated', release: id, time: new Date().toISOString() };
    return {
        host: transport.label,
        releaseId: id,
        current: state.current,
        previous: state.previous,
        upload,
        wasCurrent: wasCurrent(state.history, id),
        prune: releasesToPrune({
            present,
            current: id,
            history: [...state.history, event],
            keep: options.keep,
        }),
        lock: state.lock,
        problems,
    };
}

;// CONCATENATED MODULE: ./shared/fleet/dry-run.ts

/** What a deploy would do on every host, read from each; changes nothing. Logs a line per host. */
async function dryRunFleet(connections, options) {
    const { log } = options;
    const hosts = await Promise.all(connections.map((c) => dryRunHost(c.transport, options)));
    for (const host of hosts) {
        const upload = host.upload === 'skip' ? 'reuse' : host.upload;
        const prune = host.prune.length ? `, prune ${host.prune.join(', ')}` : '';
        const problems = host.problems.length ? `; problems: ${host.problems.join('; ')}` : '';
        log.info(`host ${host.host}: would ${upload} ${host.releaseId}, switch ${host.current ?? 'nothing'} -> ${host.releaseId}${prune}${problems}`);
    }
    return hosts;
}

// EXTERNAL MODULE: ./node_modules/@actions/github/lib/github.js + 21 modules
var lib_github = __webpack_require__(1758);
// EXTERNAL MODULE: ./node_modules/@octokit/plugin-retry/dist-bundle/index.js
var dist_bundle = __webpack_require__(9735);
// EXTERNAL MODULE: ./node_modules/@octokit/plugin-throttling/dist-bundle/index.js
var plugin_throttling_dist_bundle = __webpack_require__(6856);
;// CONCATENATED MODULE: ./shared/github.ts




const budgets = new WeakMap();
/** The token's budget as GitHub last reported it, for waits that should slow down before it runs out. */
function github_rateLimitOf(github) {
    return budgets.get(github);
}
function headerNumber(headers, name) {
    const value = headers?.[name];
    return typeof value === 'string' || typeof value === 'number' ? Number(value) : undefined;
}
function noteBudget(github, headers) {
    const remaining = headerNumber(headers, 'x-ratelimit-remaining');
    const reset = headerNumber(headers, 'x-ratelimit-reset');
    if (remaining === undefined || reset === undefined)
        return;
    budgets.set(github, { remaining, resetAt: reset * 1000 });
}
/**
 * An Octokit that retries server errors (plugin-retry) and waits out rate limits
 * (plugin-throttling) a bounded number of times, saying so in the log.
 */
function gitHubClient(options) {
    if (!options.token) {
        throw new errors/* ConfigurationError */.j1({
            input: 'token',
            problem: 'is empty',
            expected: 'a GitHub token (the default is ${{ github.token }})',
        });
    }
    const maxWait = options.maxRateLimitWaitSeconds ?? 120;
    const onLimit = (kind) => (retryAfter, request, _octokit, retryCount) => {
        if (retryCount < 3 && retryAfter <= maxWait) {
            options.log.warning(`GitHub ${kind} rate limit on ${request.method} ${request.url}: retrying in ${retryAfter}s`);
            return true;
        }
        options.log.warning(`GitHub ${kind} rate limit on ${request.method} ${request.url}: giving up`);
        return false;
    };
    const github = (0,lib_github/* getOctokit */.Q)(options.token, {
        baseUrl: options.apiUrl,
        throttle: { onRateLimit: onLimit('primary'), onSecondaryRateLimit: onLimit('secondary') },
        retry: { retries: 3 },
    }, dist_bundle/* retry */.L, plugin_throttling_dist_bundle/* throttling */.A);
    github.hook.after('request', (response) => noteBudget(github, response.headers));
    github.hook.error('request', (error) => {
        noteBudget(github, responseOf(error)?.headers);
        throw error;
    });
    return github;
}
function responseOf(error) {
    if (typeof error !== 'object' || error === null || !('response' in error))
        return undefined;
    const response = error.response;
    return typeof response === 'object' && response !== null ? response : undefined;
}
/** The HTTP status of an Octokit error, if it is one. */
function github_statusOf(error) {
    if (typeof error === 'object' && error !== null && 'status' in error) {
        const status = error.status;
        return typeof status === 'number' ? status : undefined;
    }
    return undefined;
}
/** The `message` GitHub answered with: untrusted text, for `got`. */
function github_gitHubMessage(error) {
    const data = responseOf(error)?.data;
    if (typeof data !== 'object' || data === null || !('message' in data))
        return undefined;
    return typeof data.message === 'string' ? data.message : undefined;
}
/** The `code` of each entry of a 422's `errors`, such as `already_exists`. */
function github_validationCodes(error) {
    const data = responseOf(error)?.data;
    if (typeof data !== 'object' || data === null || !('errors' in data))
        return [];
    const errors = data.errors;
    if (!Array.isArray(errors))
        return [];
    return errors.flatMap((entry) => typeof entry === 'object' && entry !== null && 'code' in entry && typeof entry.code === 'string'
        ? [entry.code]
        : []);
}
function rateLimited(error) {
    const headers = responseOf(error)?.headers;
    return (headerNumber(headers, 'x-ratelimit-remaining') === 0 || headers?.['retry-after'] !== undefined);
}
/**
 * The token's own fault, said as one: GitHub did not accept it (401), or refused it what the
 * step needed (403, not a rate limit). Undefined for any other failure.
 */
function tokenProblem(error, doing) {
    const status = github_statusOf(error);
    const got = github_gitHubMessage(error);
    if (status === 401) {
        return new errors/* ConfigurationError */.j1({
            input: 'token',
            problem: `GitHub did not accept it while ${doing} (401)`,
            expected: 'a valid GitHub token, such as the default ${{ github.token }}',
            ...(got !== undefined ? { got } : {}),
        });
    }
    if (status === 403 && !rateLimited(error)) {
        return new errors/* ConfigurationError */.j1({
            input: 'token',
            problem: `GitHub refused it while ${doing} (403)`,
            ...(got !== undefined ? { got } : {}),
            hint: 'give the job the permissions the action needs (contents: write, actions: read)',
        });
    }
    return undefined;
}
/**
 * The token checked with one request, for the repository it works on: refused (401, 403) or
 * unable to see the repository (404), it is named as the input to fix.
 */
async function checkToken(github, repository) {
    try {
        await github.rest.repos.get({ ...repository });
    }
    catch (error) {
        if (github_statusOf(error) === 404) {
            throw new ConfigurationError({
                input: 'token',
                problem: `cannot see ${repository.owner}/${repository.repo} (404)`,
                hint: 'give a token of this repository, such as the default ${{ github.token }}',
            });
        }
        throw tokenProblem(error, 'checking it') ?? error;
    }
}

;// CONCATENATED MODULE: ./shared/fleet/github-deployment.ts


/** GitHub keeps a deployment's and a status's description to 140 characters. */
function github_deployment_short(text) {
    return text.length <= 140 ? text : `${text.slice(0, 139)}…`;
}
/**
 * Records one GitHub Deployment for this run. Refusals are the token's: say which permission it
 * lacks, or how to switch the record off.
 */
async function createDeployment(target, request) {
    const { github, repository } = target;
    let id;
    try {
        const { data } = await github.rest.repos.createDeployment({
            ...repository,
            ref: request.sha,
            task: 'deploy',
            auto_merge: false,
            required_contexts: [],
            environment: request.environment,
            description: github_deployment_short(request.description),
            transient_environment: request.transient,
            production_environment: request.production,
            payload: {
                app: request.app,
                release: request.releaseId,
                manifest: request.manifestDigest,
                ...(request.rollback ? { rollback: true } : {}),
            },
        });
        if (!('id' in data)) {
            throw new Error(`GitHub did not create the deployment: ${data.message ?? 'no reason given'}`);
        }
        id = data.id;
    }
    catch (error) {
        const status = github_statusOf(error);
        if (status === 403 || status === 404) {
            throw new errors/* ConfigurationError */.j1({
                input: 'token',
                problem: `creating a GitHub Deployment was refused (${status})`,
                hint: "give the job 'permissions: deployments: write', or set deployment: false",
            });
        }
        throw error;
    }
    return id;
}
function setStatus(target, id, state, details) {
    return target.github.rest.repos.createDeploymentStatus({
        ...target.repository,
        deployment_id: id,
        state,
        description: github_deployment_short(details.description),
        ...(target.logUrl !== undefined ? { log_url: target.logUrl } : {}),
        ...(details.environmentUrl ? { environment_url: details.environmentUrl } : {}),
    });
}
/**
 * Sets a status that must not hide the deploy's own outcome (in_progress, sent while hosts
 * change, and the last one): a failure here only warns.
 */
async function reportStatus(target, id, state, details) {
    try {
        await setStatus(target, id, state, details);
    }
    catch (error) {
        target.log.warning(`Could not set GitHub Deployment ${id} to ${state}: ${error.message ?? String(error)}`);
    }
}
/**
 * The run's Deployment, recorded only once a host is about to change: `beforeChange` starts it
 * the first time and every host waits for the same one. A run that changed nothing records none.
 */
class PendingDeployment {
    target;
    request;
    started;
    /** The in_progress status, sent once the deployment exists; the last status waits for it. */
    inProgress = Promise.resolve();
    constructor(target, request) {
        this.target = target;
        this.request = request;
    }
    beforeChange = async () => {
        this.started ??= this.start();
        await this.started;
    };
    /**
     * Creates the deployment and marks it in_progress without holding the hosts back for the
     * second request: Octokit spaces writes a second apart, as GitHub asks of them.
     */
    async start() {
        const id = await createDeployment(this.target, this.request);
        const description = `Deploying ${this.request.releaseId}`;
        this.inProgress = reportStatus(this.target, id, 'in_progress', { description });
        return id;
    }
    /** The deployment's ID once recorded; the error that refused it rejects here too. */
    async id() {
        return this.started === undefined ? undefined : await this.started;
    }
    async finish(state, details) {
        const id = await this.id().catch(() => undefined);
        if (id === undefined)
            return;
        await this.inProgress;
        await reportStatus(this.target, id, state, details);
    }
}
/** Marks the environment's deployments inactive, so GitHub no longer shows it as deployed. */
async function deactivateDeployments(target, environment) {
    const { github, repository } = target;
    const deployments = await github.paginate(github.rest.repos.listDeployments, {
        ...repository,
        environment,
        per_page: 100,
    });
    let marked = 0;
    for (const deployment of deployments) {
        const { data: statuses } = await github.rest.repos.listDeploymentStatuses({
            ...repository,
            deployment_id: deployment.id,
            per_page: 1,
        });
        if (statuses[0]?.state === 'inactive')
            continue;
        await setStatus(target, deployment.id, 'inactive', { description: 'Environment torn down' });
        marked++;
    }
    return marked;
}

// EXTERNAL MODULE: external "node:fs/promises"
var external_node_fs_promises_ = __webpack_require__(1455);
// EXTERNAL MODULE: external "node:events"
var external_node_events_ = __webpack_require__(8474);
// EXTERNAL MODULE: external "node:fs"
var external_node_fs_ = __webpack_require__(3024);
// EXTERNAL MODULE: external "node:stream"
var external_node_stream_ = __webpack_require__(7075);
// EXTERNAL MODULE: external "node:stream/promises"
var external_node_stream_promises_ = __webpack_require__(6466);
// EXTERNAL MODULE: ./node_modules/@actions/http-client/lib/index.js + 1 modules
var http_client_lib = __webpack_require__(4942);
// EXTERNAL MODULE: ./node_modules/undici/index.js
var undici = __webpack_require__(6752);
;// CONCATENATED MODULE: ./shared/ledger/assets.ts








/** Release assets: read as they arrive, written as a stream whatever their size. */
/** Downloads a (small) release asset into memory. */
async function downloadAsset(github, repository, assetId) {
    const chunks = (await (await openAsset(github, repository, assetId)).toArray());
    return Buffer.concat(chunks);
}
/**
 * Each Response by its body, held for as long as the body is. fetch cancels the body of a
 * Response that is garbage-collected before the body was read, and Octokit hands on the body
 * alone: a collection between its answer and our first read (the retry and throttling plugins
 * answer a few turns later) gave an empty asset, a release.json that matched no signature.
 */
const responses = new WeakMap();
function holdingResponses(fetch) {
    return async (url, init) => {
        const response = await fetch(url, init);
        if (response.body !== null)
            responses.set(response.body, response);
        return response;
    };
}
/** A release asset's bytes as they arrive, for a reader that checks them on the way. */
async function openAsset(github, repository, assetId) {
    const fetch = (github.request.endpoint.DEFAULTS.request?.fetch ?? globalThis.fetch);
    const response = await github.request('GET /repos/{owner}/{repo}/releases/assets/{asset_id}', {
        ...repository,
        asset_id: assetId,
        headers: { accept: 'application/octet-stream' },
        request: { parseSuccessResponseBody: false, fetch: holdingResponses(fetch) },
    });
    return external_node_stream_.Readable.fromWeb(response.data);
}
/** A Blob, file-backed when the asset is a file: read lazily, and from the start on each try. */
async function assetBlob(body) {
    return 'file' in body ? openAsBlob(body.file) : new Blob([new Uint8Array(body.bytes)]);
}
/**
 * One try at uploading an asset through the release's `upload_url`, without Octokit's retries:
 * a retried upload whose first answer was lost would find its own name taken, which the caller
 * tells apart by reading the release.
 */
async function assets_sendAsset(github, uploadUrl, asset) {
    const blob = await assetBlob(asset.body);
    const response = await github.request({
        method: 'POST',
        // The URL template's {?name,label} takes `name` into the query.
        url: uploadUrl,
        name: asset.name,
        data: blob,
        headers: { 'content-type': asset.contentType, 'content-length': blob.size },
        request: { fetch: streamingFetch, retries: 0 },
    });
    const uploaded = response.data;
    return {
        id: uploaded.id,
        name: uploaded.name,
        size: uploaded.size,
        digest: uploaded.digest ?? null,
    };
}
/**
 * The fetch Octokit uses for uploads. fetch() itself, Node's or undici's, keeps every chunk of a
 * streamed request body in memory until the request ends (nodejs/undici#4058): a 1 GB bundle
 * would take 1 GB. undici's request() streams with backpressure. Octokit still does the rest
 * (auth, rate limits, errors), and the proxy is found as @actions/github finds it for Octokit's
 * own requests.
 */
async function streamingFetch(url, init = {}) {
    const body = init.body;
    const response = await undiciRequest(url, {
        method: (init.method ?? 'GET'),
        headers: init.headers,
        body: body instanceof Blob
            ? Readable.fromWeb(body.stream())
            : body,
        signal: init.signal ?? undefined,
        dispatcher: new HttpClient().getAgentDispatcher(String(url)),
    });
    const headers = new Headers();
    for (const [name, value] of Object.entries(response.headers)) {
        for (const one of Array.isArray(value) ? value : [value]) {
            if (one !== undefined)
                headers.append(name, one);
        }
    }
    const text = await response.body.text();
    const empty = [204, 205, 304].includes(response.statusCode);
    return new Response(empty ? null : text, { status: response.statusCode, headers });
}
/**
 * Writes `body` to `file` (when there is one) while `check` reads the same bytes, and stops
 * reading after `limit` bytes. When `check` refuses part-way, the rest (up to the limit) is
 * still read, so the digest can tell a replaced asset from a bad one.
 */
async function receive(body, file, limit, check) {
    const output = file === undefined ? undefined : (0,external_node_fs_.createWriteStream)(file, { highWaterMark: 1 << 20 });
    const written = output ? (0,external_node_stream_promises_.finished)(output) : Promise.resolve();
    written.catch(() => undefined);
    const hash = (0,external_node_crypto_.createHash)('sha256');
    let size = 0;
    async function* incoming() {
        for await (const chunk of body) {
            const bytes = chunk.subarray(0, limit - size);
            hash.update(bytes);
            size += bytes.length;
            if (output && !output.write(bytes))
                await (0,external_node_events_.once)(output, 'drain');
            yield bytes;
            if (size >= limit)
                return;
        }
    }
    const source = incoming();
    // Without return(), a refusal mid-bundle cannot close the download: its rest still counts.
    const unclosable = {
        [Symbol.asyncIterator]: () => ({ next: () => source.next() }),
    };
    let refusal;
    try {
        await check(unclosable);
    }
    catch (error) {
        if (!(error instanceof errors/* ConfigurationError */.j1))
            throw error;
        refusal = error;
    }
    finally {
        for await (const rest of source)
            void rest;
        body.destroy();
        output?.end();
    }
    await written;
    return { digest: `sha256:${hash.digest('hex')}`, size, refusal };
}

;// CONCATENATED MODULE: ./shared/ledger/tags.ts

function tags_tagPrefix(scope) {
    return `${scope.app}/${scope.environment}/`;
}
function tags_tagOf(scope, id) {
    return (0,shared_names/* releaseTag */.aF)(scope.app, scope.environment, id);
}
function tags_repositoryOf(scope) {
    return { owner: scope.owner, repo: scope.repo };
}
/** One request: every `v<N>` tag of the scope. Other IDs are outside the numbered ledger. */
async function tags_readIndex(github, scope) {
    const { data } = await github.rest.git.listMatchingRefs({
        ...tags_repositoryOf(scope),
        ref: `tags/${tags_tagPrefix(scope)}v`,
    });
    const tags = [];
    for (const ref of data) {
        const tag = ref.ref.slice('refs/tags/'.length);
        const id = tag.slice(tags_tagPrefix(scope).length);
        const number = (0,shared_names/* releaseNumber */.BP)(id);
        if (number === undefined)
            continue;
        tags.push({ id, number, tag, object: { sha: ref.object.sha, type: ref.object.type } });
    }
    tags.sort((a, b) => a.number - b.number);
    return { tags, highest: tags.at(-1)?.number ?? 0 };
}

;// CONCATENATED MODULE: ./shared/ledger/holders.ts


const HEADER = 'build-release-run reservation';
function holders_reservationMessage(holder) {
    return [
        HEADER,
        '',
        `run: ${holder.runId}`,
        `attempt: ${holder.attempt}`,
        `build: ${holder.build}`,
        `nonce: ${holder.nonce}`,
        '',
    ].join('\n');
}
function parseReservation(message) {
    const lines = message.split('\n');
    if (lines[0] !== HEADER)
        return undefined;
    const fields = new Map();
    for (const line of lines.slice(1)) {
        const at = line.indexOf(': ');
        if (at > 0)
            fields.set(line.slice(0, at), line.slice(at + 2));
    }
    const runId = Number(fields.get('run'));
    const attempt = Number(fields.get('attempt'));
    const build = fields.get('build');
    const nonce = fields.get('nonce');
    if (!Number.isSafeInteger(runId) || !Number.isSafeInteger(attempt) || !build || !nonce) {
        return undefined;
    }
    return { runId, attempt, build, nonce };
}
/** The job that reserved a tag, when a release job did (one request). */
async function holders_holderOf(github, scope, tag) {
    if (tag.object.type !== 'tag')
        return undefined;
    const { data } = await github.rest.git.getTag({
        ...repositoryOf(scope),
        tag_sha: tag.object.sha,
    });
    return parseReservation(data.message);
}
/**
 * Whether the holder's job has ended (one request): its run completed, or a later attempt of
 * the run started. A run the token may not read counts as still running.
 */
async function holders_holderGone(github, scope, holder) {
    try {
        const { data } = await github.rest.actions.getWorkflowRun({
            ...repositoryOf(scope),
            run_id: holder.runId,
        });
        return data.status === 'completed' || (data.run_attempt ?? 1) > holder.attempt;
    }
    catch (error) {
        if (statusOf(error) === 404)
            return true;
        if (statusOf(error) === 403)
            return false;
        throw error;
    }
}
/** Where a tag points now, or undefined when it is gone (one request). */
async function holders_readTagRef(github, scope, tag) {
    try {
        const { data } = await github.rest.git.getRef({ ...repositoryOf(scope), ref: `tags/${tag}` });
        return data.object.sha;
    }
    catch (error) {
        if (statusOf(error) === 404)
            return undefined;
        throw error;
    }
}

;// CONCATENATED MODULE: ./shared/ledger/pace.ts

/** Below this many requests left, polls spread what is left over the rest of the hour. */
const LOW_BUDGET = 100;
const FIRST_DELAY_MS = 1000;
const LONGEST_DELAY_MS = 30_000;
const realSleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
function pace_pacer(github, bounds) {
    const now = bounds.now ?? Date.now;
    const sleep = bounds.sleep ?? realSleep;
    const deadline = now() + bounds.seconds * 1000;
    let delay = FIRST_DELAY_MS;
    let spent = 0;
    return {
        get spent() {
            return spent;
        },
        spend(requests) {
            spent += requests;
        },
        async pause() {
            if (spent >= bounds.requests)
                return false;
            let wait = delay;
            const budget = bounds.budget ? bounds.budget() : rateLimitOf(github);
            if (budget && budget.remaining < LOW_BUDGET) {
                wait = Math.max(wait, (budget.resetAt - now()) / Math.max(1, budget.remaining));
            }
            if (now() + wait > deadline)
                return false;
            await sleep(wait);
            delay = Math.min(delay * 2, LONGEST_DELAY_MS);
            return true;
        },
    };
}

;// CONCATENATED MODULE: ./shared/ledger/releases.ts



function toEntry(scope, release) {
    return {
        id: release.tag_name.slice(tags_tagPrefix(scope).length),
        tag: release.tag_name,
        releaseId: release.id,
        draft: release.draft,
        prerelease: release.prerelease,
        immutable: release.immutable ?? false,
        url: release.html_url,
        body: release.body ?? '',
        createdAt: release.created_at,
        publishedAt: release.published_at,
        assets: release.assets.map((asset) => ({
            id: asset.id,
            name: asset.name,
            size: asset.size,
            state: asset.state,
        })),
    };
}
/** The published release on a tag, or undefined: GitHub shows no draft by tag. */
async function releases_readRelease(github, scope, tag) {
    try {
        const { data } = await github.rest.repos.getReleaseByTag({ ...tags_repositoryOf(scope), tag });
        return data.draft ? undefined : toEntry(scope, data);
    }
    catch (error) {
        if (github_statusOf(error) === 404)
            return undefined;
        throw error;
    }
}
/** One published release by ID, or undefined. */
function findRelease(github, scope, id) {
    return releases_readRelease(github, scope, tags_tagOf(scope, id));
}
/**
 * How many of the newest tags `latest` looks past: tags whose release is still being made, or
 * was given up. Each costs one request.
 */
const LATEST_WALK = 10;
/**
 * The newest published release of the numbered ledger: the tags from one request, then the
 * releases on the newest of them, newest first, until one is published.
 */
async function latestRelease(github, scope, index) {
    const { tags } = index ?? (await tags_readIndex(github, scope));
    const newest = tags.slice(-LATEST_WALK).reverse();
    for (const candidate of newest) {
        const entry = await releases_readRelease(github, scope, candidate.tag);
        if (entry)
            return entry;
    }
    if (tags.length > LATEST_WALK) {
        throw new errors/* ConfigurationError */.j1({
            subject: `ledger ${scope.app}/${scope.environment}`,
            problem: `none of its newest ${LATEST_WALK} tags (${newest.at(-1)?.id}…${newest[0]?.id}) has a published release`,
            hint: 'publish a release, or name the release to deploy with release-id',
        });
    }
    return undefined;
}

;// CONCATENATED MODULE: ./shared/ledger/chain.ts




/** Tags without a published release passed over before the walk gives up. */
const CHAIN_WALK = 20;
/** Polls a tag until its release is published, its tag is deleted, or its job has ended. */
async function settle(walk, tag, holder) {
    const { github, scope, pace } = walk;
    for (let poll = 1; await pace.pause(); poll++) {
        const entry = await readRelease(github, scope, tag.tag);
        pace.spend(1);
        if (entry)
            return { entry };
        const at = await readTagRef(github, scope, tag.tag);
        pace.spend(1);
        if (at !== tag.object.sha)
            return 'gone';
        if (poll % 3 === 0) {
            pace.spend(1);
            if (await holderGone(github, scope, holder))
                return 'gone';
        }
    }
    throw new ConfigurationError({
        subject: `release tag ${tag.tag}`,
        problem: `another release job (run ${holder.runId}, attempt ${holder.attempt}) still holds it without publishing, after ${pace.spent} checks`,
        hint: `let that job finish or cancel it, then run this one again (a cancelled job removes its tag)`,
    });
}
/** What a tag without a published release is: being made by a running job, or left behind. */
async function pending(walk, tag) {
    const { github, scope } = walk;
    const holder = await holderOf(github, scope, tag);
    if (!holder || (await holderGone(github, scope, holder))) {
        walk.log.info(`${tag.tag} has no published release and no running job holds it: passed over`);
        return 'gone';
    }
    walk.log.info(`Waiting for the release job that holds ${tag.tag} (run ${holder.runId}) to publish or give up`);
    return settle(walk, tag, holder);
}
async function previousRelease(github, scope, index, options) {
    const below = options.below ?? Number.POSITIVE_INFINITY;
    const candidates = index.tags.filter((tag) => tag.number < below).reverse();
    const walk = { github, scope, pace: pacer(github, options.wait), log: options.log };
    for (const [passed, tag] of candidates.entries()) {
        if (passed >= CHAIN_WALK)
            break;
        const entry = await readRelease(github, scope, tag.tag);
        if (entry)
            return entry;
        const settled = await pending(walk, tag);
        if (settled !== 'gone')
            return settled.entry;
    }
    if (candidates.length > CHAIN_WALK) {
        throw new ConfigurationError({
            subject: `ledger ${scope.app}/${scope.environment}`,
            problem: `none of the ${CHAIN_WALK} tags below the new release has a published release, so it has nothing to chain to`,
            hint: 'delete the tags of releases that will never be published',
        });
    }
    return undefined;
}

;// CONCATENATED MODULE: ./shared/ledger/drafts.ts




const TRIES = 3;
const drafts_realSleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
/** Network failures (Octokit says 500) and server errors: the request may have taken effect. */
function unanswered(error) {
    const status = statusOf(error);
    return status === undefined || status >= 500;
}
function nonceMarker(nonce) {
    return `<!-- build-release-run ${nonce} -->`;
}
/** This job's draft among the newest releases (one request: a draft was made moments ago). */
async function findDraft(github, scope, spec) {
    const { data } = await github.rest.repos.listReleases({ ...repositoryOf(scope), per_page: 30 });
    const found = data.find((release) => release.draft &&
        release.tag_name === spec.tag &&
        (release.body ?? '').includes(nonceMarker(spec.nonce)));
    return found ? { id: found.id, uploadUrl: found.upload_url } : undefined;
}
async function createDraft(github, scope, spec, options = {}) {
    const sleep = options.sleep ?? drafts_realSleep;
    for (let tries = 1;; tries++) {
        try {
            const { data } = await github.rest.repos.createRelease({
                ...repositoryOf(scope),
                tag_name: spec.tag,
                name: spec.name,
                body: `${spec.body}\n\n${nonceMarker(spec.nonce)}`,
                draft: true,
                prerelease: spec.prerelease,
                make_latest: 'false',
                request: { retries: 0 },
            });
            return { id: data.id, uploadUrl: data.upload_url };
        }
        catch (error) {
            if (!unanswered(error))
                throw error;
            const found = await findDraft(github, scope, spec);
            if (found)
                return found;
            if (tries >= TRIES)
                throw error;
            await sleep(1000 * tries ** 2);
        }
    }
}
async function heldAsset(github, scope, draft, name) {
    const { data } = await github.rest.repos.getRelease({
        ...repositoryOf(scope),
        release_id: draft.id,
    });
    return data.assets.find((asset) => asset.name === name);
}
function checkHeld(asset, uploaded, size) {
    if (uploaded.size !== size || (uploaded.digest && uploaded.digest !== asset.digest)) {
        throw new Error(`GitHub holds release asset ${asset.name} as ${uploaded.size} bytes ${uploaded.digest ?? ''}, but ${size} bytes ${asset.digest} were sent`);
    }
    return uploaded;
}
/**
 * Uploads an asset to the draft. After a failure that may have taken effect, GitHub's copy is
 * read: the same size and digest is this upload; a `starter` left by a failed upload (or any
 * other copy) is deleted and the upload tried again.
 */
async function putAsset(github, scope, upload) {
    const { draft, asset } = upload;
    const sleep = upload.sleep ?? drafts_realSleep;
    for (let tries = 1;; tries++) {
        try {
            return checkHeld(asset, await sendAsset(github, draft.uploadUrl, asset), asset.size);
        }
        catch (error) {
            const taken = validationCodes(error).includes('already_exists');
            if (!unanswered(error) && !taken)
                throw error;
            const held = await heldAsset(github, scope, draft, asset.name);
            if (held?.state === 'uploaded' && held.size === asset.size && held.digest === asset.digest) {
                return { id: held.id, name: held.name, size: held.size, digest: held.digest };
            }
            if (held) {
                await github.rest.repos.deleteReleaseAsset({ ...repositoryOf(scope), asset_id: held.id });
            }
            if (tries >= TRIES)
                throw error;
            await sleep(1000 * tries);
        }
    }
}
/** Publishes the draft; a publish whose answer was lost is seen in the release itself. */
async function publishDraft(github, scope, draft, makeLatest) {
    try {
        const { data } = await github.rest.repos.updateRelease({
            ...repositoryOf(scope),
            release_id: draft.id,
            draft: false,
            make_latest: makeLatest ? 'true' : 'false',
        });
        return data.html_url;
    }
    catch (error) {
        const { data } = await github.rest.repos
            .getRelease({ ...repositoryOf(scope), release_id: draft.id })
            .catch(() => {
            throw error;
        });
        if (!data.draft)
            return data.html_url;
        throw error;
    }
}
/** Deletes the draft; a release that turned out published (its answer lost) is left alone. */
async function dropDraft(github, scope, holding) {
    const draft = holding.draft ?? (holding.draftSpec && (await findDraft(github, scope, holding.draftSpec)));
    if (!draft)
        return false;
    try {
        const { data } = await github.rest.repos.getRelease({
            ...repositoryOf(scope),
            release_id: draft.id,
        });
        if (!data.draft)
            return true;
        await github.rest.repos.deleteRelease({ ...repositoryOf(scope), release_id: draft.id });
    }
    catch (error) {
        if (statusOf(error) !== 404)
            throw error;
    }
    return false;
}
async function dropTag(github, scope, holding) {
    if (!holding.tagObject)
        return;
    if ((await readTagRef(github, scope, holding.tag)) !== holding.tagObject)
        return;
    try {
        await github.rest.git.deleteRef({ ...repositoryOf(scope), ref: `tags/${holding.tag}` });
    }
    catch (error) {
        if (statusOf(error) !== 404 && statusOf(error) !== 422)
            throw error;
    }
}
/**
 * Undoes a release that was not published: its draft, then its tag, so no half release is left
 * and the number is free again. A handful of requests, none of them a listing of the ledger, so
 * it fits the seconds a cancelled job has. Returns what could not be removed.
 */
async function abandon(github, scope, holding, log) {
    const leftovers = [];
    try {
        if (await dropDraft(github, scope, holding)) {
            log.warning(`${holding.tag} was published after all: it and its tag are left as they are`);
            return [];
        }
    }
    catch (error) {
        log.warning(`Could not delete the draft release of ${holding.tag}: ${error.message}`);
        leftovers.push(`the draft release of ${holding.tag}`);
    }
    try {
        await dropTag(github, scope, holding);
    }
    catch (error) {
        log.warning(`Could not delete the tag ${holding.tag}: ${error.message}`);
        leftovers.push(`the tag ${holding.tag}`);
    }
    return leftovers;
}

;// CONCATENATED MODULE: ./shared/ledger/rules.ts


/**
 * Why GitHub refused a tag name that no ref holds: a tag ruleset restricting creation (every
 * number would be refused: say which ruleset), or else a name an immutable release once used
 * (never given out again: the next number is free).
 */
/**
 * A ruleset condition's fnmatch pattern against a full ref name: `*` matches within one path
 * segment, `**` across segments, `~ALL` everything.
 */
function refPatternMatches(pattern, ref) {
    if (pattern === '~ALL')
        return true;
    let expression = '^';
    for (let i = 0; i < pattern.length; i++) {
        const char = pattern.charAt(i);
        if (char === '*' && pattern.charAt(i + 1) === '*') {
            expression += '.*';
            i++;
        }
        else if (char === '*') {
            expression += '[^/]*';
        }
        else {
            expression += /[\w/-]/.test(char) ? char : `\\${char}`;
        }
    }
    return new RegExp(`${expression}$`).test(ref);
}
/**
 * The active tag rulesets that restrict creating this tag, by name; undefined when the token
 * may not read the rulesets. One request, plus one per active tag ruleset.
 */
async function rules_restrictingRulesets(github, scope, tag) {
    const repository = repositoryOf(scope);
    const ref = `refs/tags/${tag}`;
    try {
        const { data: listed } = await github.rest.repos.getRepoRulesets({
            ...repository,
            targets: 'tag',
        });
        const names = [];
        for (const summary of listed) {
            if (summary.target !== 'tag' || summary.enforcement !== 'active')
                continue;
            const { data: ruleset } = await github.rest.repos.getRepoRuleset({
                ...repository,
                ruleset_id: summary.id,
            });
            const condition = ruleset.conditions && 'ref_name' in ruleset.conditions
                ? ruleset.conditions.ref_name
                : undefined;
            const restricts = (ruleset.rules ?? []).some((rule) => rule.type === 'creation');
            const included = (condition?.include ?? []).some((p) => refPatternMatches(p, ref));
            const excluded = (condition?.exclude ?? []).some((p) => refPatternMatches(p, ref));
            if (restricts && included && !excluded)
                names.push(ruleset.name);
        }
        return names;
    }
    catch (error) {
        if (statusOf(error) === 403 || statusOf(error) === 404)
            return undefined;
        throw error;
    }
}

;// CONCATENATED MODULE: ./shared/ledger/reserve.ts





/** Numbers skipped for names GitHub will not give out again, before giving up. */
const MAX_SKIPS = 3;
/** Tries in all: races lost, skips, a default branch that moved. */
const MAX_TRIES = 8;
async function branchHead(github, scope, branch) {
    const name = branch ?? (await github.rest.repos.get({ ...repositoryOf(scope) })).data.default_branch;
    const { data } = await github.rest.git.getRef({ ...repositoryOf(scope), ref: `heads/${name}` });
    return { name, sha: data.object.sha };
}
/** The tag object naming this job, at the commit: what the ref will point at. */
async function tagObject(github, scope, tag) {
    const { data } = await github.rest.git.createTag({
        ...repositoryOf(scope),
        tag: tag.name,
        message: reservationMessage(tag.holder),
        object: tag.commit,
        type: 'commit',
    });
    return data.sha;
}
/** Creates the ref; a 422 or 403 is read for what it is by looking at the ref and the head. */
async function createRef(github, scope, reservation, head) {
    try {
        await github.rest.git.createRef({
            ...repositoryOf(scope),
            ref: `refs/tags/${reservation.tag}`,
            sha: reservation.tagObject,
        });
        return 'made';
    }
    catch (error) {
        const status = statusOf(error);
        if (status === 403) {
            // The head moved on to other workflow files since it was read; else the token lacks
            // contents: write, which the stage reports as the token's problem.
            const now = await branchHead(github, scope, head.name);
            if (now.sha !== head.sha)
                return { moved: now };
            throw error;
        }
        if (status !== 422)
            throw error;
        const holder = await readTagRef(github, scope, reservation.tag);
        // A retried request whose first answer was lost finds its own tag.
        if (holder === reservation.tagObject)
            return 'made';
        if (holder !== undefined)
            return 'taken';
        return { refused: foldedTail(gitHubMessage(error) ?? 'refused') };
    }
}
function exists(scope, id) {
    return new ConfigurationError({
        input: 'release-id',
        problem: `release ${id} of ${scope.app}/${scope.environment} exists already; releases are never overwritten`,
    });
}
async function refusal(github, scope, tag, got) {
    const rulesets = await restrictingRulesets(github, scope, tag);
    if (!rulesets?.length)
        return undefined;
    return new ConfigurationError({
        subject: `release tag ${tag}`,
        problem: `GitHub refuses to create it: the tag ruleset ${rulesets.map((name) => JSON.stringify(name)).join(', ')} restricts creating it`,
        got,
        hint: `let release jobs create refs/tags/${tagPrefix(scope)}v* (add GitHub Actions to the ruleset's bypass list, or exclude those tags) in the repository's Settings, Rules, Rulesets`,
    });
}
/** A name GitHub will not give out again: explicit, or after every skip allowed. */
function burned(tag, got, explicit) {
    return new ConfigurationError({
        ...(explicit ? { input: 'release-id' } : {}),
        subject: `release tag ${tag}`,
        problem: `GitHub refuses to create it${explicit ? '' : `, and the ${MAX_SKIPS} names before it`}: a release that was deleted used the name, and immutable releases never give a name out again`,
        got,
        ...(explicit ? { hint: 'choose another release-id' } : {}),
    });
}
/** Reserves the next release number (or the explicit ID) for this job. */
async function reserve(github, scope, options) {
    let head = await branchHead(github, scope, options.defaultBranch);
    let index = options.index;
    let next = index.highest + 1;
    let skips = 0;
    for (let tries = 0; tries < MAX_TRIES; tries++) {
        const id = options.id ?? `v${next}`;
        const tag = tagOf(scope, id);
        const reservation = {
            id,
            tag,
            tagObject: await tagObject(github, scope, {
                name: tag,
                commit: head.sha,
                holder: options.holder,
            }),
            index,
        };
        options.claim?.(reservation);
        const outcome = await createRef(github, scope, reservation, head);
        if (outcome === 'made')
            return reservation;
        if (typeof outcome === 'object' && 'moved' in outcome) {
            options.log.info(`${head.name} moved on to ${outcome.moved.sha} while reserving; tagging there`);
            head = outcome.moved;
            continue;
        }
        if (options.id !== undefined && outcome === 'taken')
            throw exists(scope, id);
        if (outcome === 'taken') {
            options.log.info(`${tag} was taken by another release job; trying the next number`);
            index = await readIndex(github, scope);
            next = Math.max(next, index.highest) + 1;
            continue;
        }
        const ruled = await refusal(github, scope, tag, outcome.refused);
        if (ruled)
            throw ruled;
        if (options.id !== undefined || ++skips > MAX_SKIPS) {
            throw burned(tag, outcome.refused, options.id !== undefined);
        }
        options.log.info(`${tag} was used by a deleted immutable release and cannot be reused; skipping it`);
        next++;
    }
    throw new ConfigurationError({
        subject: `ledger ${scope.app}/${scope.environment}`,
        problem: `no release number could be reserved in ${MAX_TRIES} tries: other release jobs keep taking them`,
        hint: 'run release jobs of one environment one at a time (concurrency in the workflow)',
    });
}

;// CONCATENATED MODULE: ./shared/ledger/teardown.ts



/**
 * Deletes an environment's releases (a closed pull request's preview), each read by its tag:
 * nothing lists every release of the repository. Tags go too, except, when the releases were
 * immutable, the highest: those names are never given out again, and the tag left behind keeps
 * the numbering going when the pull request is reopened, instead of every old number being
 * tried and refused.
 */
async function deleteLedger(github, scope, log) {
    const { tags } = await tags_readIndex(github, scope);
    const deleted = [];
    let immutable = false;
    for (const tag of tags) {
        const entry = await releases_readRelease(github, scope, tag.tag);
        if (!entry)
            continue;
        immutable ||= entry.immutable;
        await github.rest.repos.deleteRelease({ ...tags_repositoryOf(scope), release_id: entry.releaseId });
        log.info(`Deleted release ${tag.tag}`);
        deleted.push(tag.tag);
    }
    const floor = immutable ? tags.at(-1)?.tag : undefined;
    for (const tag of tags) {
        if (tag.tag === floor)
            continue;
        try {
            await github.rest.git.deleteRef({ ...tags_repositoryOf(scope), ref: `tags/${tag.tag}` });
        }
        catch (error) {
            if (github_statusOf(error) !== 404 && github_statusOf(error) !== 422)
                throw error;
        }
    }
    if (floor)
        log.info(`Kept the tag ${floor}: the next release of ${scope.environment} follows it`);
    return deleted;
}

;// CONCATENATED MODULE: ./shared/ledger.ts
/**
 * The release ledger of one app and environment, on GitHub's real rules: GitHub Releases on tags
 * `<app>/<environment>/v<N>`, read through the tags (one request, whatever the ledger's length),
 * reserved by creating a tag that points at the default branch's head (never at the build's
 * commit, which the Actions token may not be allowed to tag), published draft-first.
 */











// EXTERNAL MODULE: external "node:path"
var external_node_path_ = __webpack_require__(6760);
var external_node_path_default = /*#__PURE__*/__webpack_require__.n(external_node_path_);
;// CONCATENATED MODULE: ./shared/bundle/rules.ts

/** A link whose lookup passes through more links than this is refused, as the kernel does (ELOOP). */
const MAX_LINKS_FOLLOWED = 40;
/** The longest name a Linux file system takes for one path component (NAME_MAX). */
const MAX_NAME_BYTES = 255;
/** The longest path (or symlink target) the kernel takes: PATH_MAX, less its NUL. */
const MAX_PATH_BYTES = 4095;
/** How an entry is named in an error: its path is untrusted, so quoted, escaped and bounded. */
function rules_entrySubject(path, kind) {
    return `${kind === 'symlink' ? 'symlink' : 'entry'} ${(0,errors/* quoted */.TL)(path)}`;
}
/** Bytes that may not be UTF-8, quoted: printable ASCII as is, any other byte (and `"`, `\`) as `\xNN`. */
function rules_quotedBytes(bytes) {
    let out = '';
    for (const byte of bytes.subarray(0, 400)) {
        const plain = byte >= 0x20 && byte < 0x7f && byte !== 0x22 && byte !== 0x5c;
        out += plain ? String.fromCharCode(byte) : `\\x${byte.toString(16).padStart(2, '0')}`;
    }
    return `"${out}${bytes.length > 400 ? '…' : ''}"`;
}
/** A `.` or `..` component: a path without one (and without `//`) is in normal form already. */
const DOT_COMPONENT = /(?:^|\/)\.\.?(?:\/|$)/;
/**
 * A path as written in a pattern or a tar header, normalised: `.` and empty components dropped,
 * a trailing `/` ignored, `''` for the root. Refuses what could land outside the root: an
 * absolute path and any `..` component, wherever it stands. `subject` names it in errors.
 */
function rules_normalisePath(path, subject) {
    if (path.includes('\0')) {
        throw new errors/* ConfigurationError */.j1({ subject: subject(), problem: 'contains a NUL byte' });
    }
    if (path.startsWith('/')) {
        throw new errors/* ConfigurationError */.j1({
            subject: subject(),
            problem: 'is absolute',
            expected: 'a path relative to the root',
        });
    }
    const trimmed = path.replace(/\/+$/, '');
    if (!trimmed.includes('//') && !DOT_COMPONENT.test(trimmed))
        return trimmed;
    const parts = path.split('/').filter((part) => part !== '' && part !== '.');
    if (parts.includes('..')) {
        throw new errors/* ConfigurationError */.j1({
            subject: subject(),
            problem: "contains '..'",
            expected: 'a path inside the root',
        });
    }
    return parts.join('/');
}
/** A bundle must hold something to run: at least one file or symlink. */
function rules_refuseEmpty(contents) {
    if (contents === 0) {
        throw new errors/* ConfigurationError */.j1({
            subject: 'the bundle',
            problem: 'is empty',
            expected: 'at least one file or symlink',
        });
    }
}
/**
 * Orders paths by their UTF-8 bytes, as `LC_ALL=C sort` does. JavaScript compares UTF-16 code
 * units, which puts U+E000..U+FFFF after the surrogates of characters beyond U+FFFF; UTF-8 puts
 * them before.
 */
function rules_compareUtf8(a, b) {
    const length = Math.min(a.length, b.length);
    for (let i = 0; i < length; i++) {
        const x = a.charCodeAt(i);
        const y = b.charCodeAt(i);
        if (x === y)
            continue;
        const xSurrogate = x >= 0xd800 && x <= 0xdfff;
        const ySurrogate = y >= 0xd800 && y <= 0xdfff;
        if (xSurrogate !== ySurrogate)
            return xSurrogate ? 1 : -1;
        return x - y;
    }
    return a.length - b.length;
}
/**
 * What a file's place in its directory holds: files are most of a bundle, and all the rules need
 * of one is that it is there, so every file is this one node, with no path or parent of its own
 * (a large tree's were megabytes of heap for the length of the check).
 */
const FILE = { kind: 'file', parent: undefined, path: '' };
/**
 * The rules every entry of a bundle obeys, checked the same way when a bundle is packed and when
 * one is unpacked: only files, directories and symlinks; names and paths a host's file system
 * takes; no path written twice or through a symlink; no symlink that resolves outside the
 * bundle, even through other symlinks. The cost is linear in the entries' paths and targets:
 * each path is looked up once, each link resolved once.
 */
class rules_BundleRules {
    #root = { kind: 'directory', parent: undefined, path: '' };
    #nodes = new Map([['', this.#root]]);
    #links = [];
    /** Where each link leads, once resolved through other links; `undefined` while resolving. */
    #resolved = new Map();
    /**
     * Admits one entry by its normalised path (components joined by `/`). Directories implied by
     * a path count as directories, so a later symlink or file at that path is a duplicate.
     */
    admit(path, kind, linkTarget) {
        checkLengths(path, kind, linkTarget);
        const parent = this.#directoryOf(path);
        const name = path.slice(path.lastIndexOf('/') + 1);
        const existing = parent.children?.get(name);
        if (existing !== undefined) {
            if (existing.kind === 'directory' && kind === 'directory')
                return;
            throw new errors/* ConfigurationError */.j1({ subject: rules_entrySubject(path), problem: 'appears twice' });
        }
        if (kind === 'file') {
            (parent.children ??= new Map()).set(name, FILE);
            return;
        }
        const node = this.#add(parent, name, kind, path);
        if (kind !== 'symlink')
            return;
        const target = linkTarget ?? '';
        if (target === '') {
            throw new errors/* ConfigurationError */.j1({
                subject: rules_entrySubject(path, kind),
                problem: 'has an empty target',
            });
        }
        if (target.startsWith('/')) {
            throw new errors/* ConfigurationError */.j1({
                subject: rules_entrySubject(path, kind),
                problem: 'points to an absolute path',
                expected: 'a relative target inside the bundle',
                got: (0,errors/* quoted */.TL)(target),
            });
        }
        node.target = target;
        this.#links.push(node);
        this.#walk({ node: parent, below: 0 }, target, { from: node, follow: false });
    }
    /**
     * Checks what only the whole bundle can tell: symlinks that escape only through other
     * symlinks (`a -> d/l/..` with `d/l -> ..`).
     */
    finish() {
        for (const link of this.#links)
            this.#follow(link, link);
    }
    /** The directory node an entry goes into, adding the directories its path implies. */
    #directoryOf(path) {
        const missing = [];
        let cut = path.lastIndexOf('/');
        let found = this.#root;
        while (cut !== -1) {
            const parent = path.slice(0, cut);
            const node = this.#nodes.get(parent);
            if (node !== undefined) {
                if (node.kind === 'directory') {
                    found = node;
                    break;
                }
                // Only directories and symlinks are nodes by path: a file is found below, in its directory.
                throw new errors/* ConfigurationError */.j1({
                    subject: `${rules_entrySubject(path)} below the symlink ${(0,errors/* quoted */.TL)(parent)}`,
                    problem: 'would be written through the symlink',
                });
            }
            missing.push(parent);
            cut = parent.lastIndexOf('/');
        }
        for (const parent of missing.reverse()) {
            const name = parent.slice(parent.lastIndexOf('/') + 1);
            if (found.children?.get(name) === FILE) {
                throw new errors/* ConfigurationError */.j1({
                    subject: `${rules_entrySubject(path)} below the file ${(0,errors/* quoted */.TL)(parent)}`,
                    problem: 'cannot be written below a file',
                });
            }
            found = this.#add(found, name, 'directory', parent);
        }
        return found;
    }
    #add(parent, name, kind, path) {
        const node = { kind, parent, path };
        parent.children ??= new Map();
        parent.children.set(name, node);
        this.#nodes.set(path, node);
        return node;
    }
    /** Where `link` leads and how many links that takes; memoised, so each link is walked once. */
    #follow(link, origin) {
        const known = this.#resolved.get(link);
        if (known !== undefined)
            return known;
        if (this.#resolved.has(link))
            throw tooDeep(origin);
        this.#resolved.set(link, undefined);
        const start = { node: link.parent ?? this.#root, below: 0 };
        const end = this.#walk(start, link.target ?? '', { from: origin, follow: true });
        this.#resolved.set(link, end);
        return end;
    }
    /**
     * Walks a target from `position`, one component at a time; throws if any step climbs above
     * the root. Links on the way are followed only once every entry is in (`follow`), counted as
     * the kernel counts them: every link a lookup passes through, nested or not.
     */
    #walk(position, target, options) {
        let { node, below } = position;
        let follows = 0;
        for (const part of target.split('/')) {
            if (part === '' || part === '.')
                continue;
            if (part === '..') {
                if (below > 0)
                    below--;
                else if (node.parent !== undefined)
                    node = node.parent;
                else {
                    throw new errors/* ConfigurationError */.j1({
                        subject: rules_entrySubject(options.from.path, 'symlink'),
                        problem: 'points outside the bundle',
                        got: (0,errors/* quoted */.TL)(options.from.target ?? target),
                    });
                }
                continue;
            }
            const child = below === 0 ? node.children?.get(part) : undefined;
            // Below a file, as below what the bundle does not hold: `..` comes back to its directory.
            if (child === undefined || child === FILE)
                below++;
            else if (child.kind === 'symlink' && options.follow) {
                const next = this.#follow(child, options.from);
                follows += 1 + next.follows;
                if (follows > MAX_LINKS_FOLLOWED)
                    throw tooDeep(options.from);
                ({ node, below } = next);
            }
            else
                node = child;
        }
        return { node, below, follows };
    }
}
function tooDeep(link) {
    return new errors/* ConfigurationError */.j1({
        subject: rules_entrySubject(link.path, 'symlink'),
        problem: 'is part of a loop or a chain too deep',
    });
}
/** Names and paths a host's file system takes: what GNU tar there could not create is refused here. */
function checkLengths(path, kind, linkTarget) {
    const refuse = (problem, expected) => new errors/* ConfigurationError */.j1({ subject: rules_entrySubject(path, kind), problem, expected });
    const bytes = Buffer.byteLength(path);
    if (bytes > MAX_PATH_BYTES) {
        throw refuse(`has a path of ${bytes} bytes`, `at most ${MAX_PATH_BYTES} (PATH_MAX)`);
    }
    // A name of fewer than 86 UTF-16 units is under 256 bytes: only longer ones are measured.
    for (let start = 0; bytes > MAX_NAME_BYTES && start <= path.length;) {
        const slash = path.indexOf('/', start);
        const end = slash === -1 ? path.length : slash;
        const length = end - start > MAX_NAME_BYTES / 3 ? Buffer.byteLength(path.slice(start, end)) : 0;
        if (length > MAX_NAME_BYTES) {
            throw refuse(`has a name of ${length} bytes`, `at most ${MAX_NAME_BYTES} (NAME_MAX)`);
        }
        start = end + 1;
    }
    const targetBytes = linkTarget === undefined ? 0 : Buffer.byteLength(linkTarget);
    if (targetBytes > MAX_PATH_BYTES) {
        throw refuse(`has a target of ${targetBytes} bytes`, `at most ${MAX_PATH_BYTES} (PATH_MAX)`);
    }
}

;// CONCATENATED MODULE: ./shared/bundle/entries.ts




const GLOB_MAGIC = /[*?[\]{}]/;
const utf8 = new TextDecoder('utf-8', { fatal: true });
const ONLY_THREE_KINDS = 'a bundle holds only files, directories and symlinks';
/**
 * Expands the build's `path` lines (files, directories or globs, relative to `root`) into the
 * bundle's entries: directories recursively, each entry's parent directories included, symlinks
 * kept as symlinks, sorted by path in byte order. Refuses anything a reproducible, safe bundle
 * cannot hold, naming the path and the rule, by the same rules a bundle is checked by before it
 * reaches a host. Errors concern the `path` lines; the caller names the input.
 */
async function entries_resolveEntries(root, patterns) {
    const base = resolve(root);
    // The root itself may be reached through a symlink (a working directory often is).
    const rootStats = await stat(base).catch(() => undefined);
    if (!rootStats?.isDirectory()) {
        throw new ConfigurationError({
            subject: `bundle root ${quoted(root)}`,
            problem: 'is not a directory',
        });
    }
    const tree = new Tree(base);
    for (const pattern of patterns) {
        const matches = await expand(base, pattern);
        if (matches.length === 0) {
            throw new ConfigurationError({ subject: quoted(pattern), problem: 'matches nothing' });
        }
        for (const match of matches)
            await tree.addMatch(match);
    }
    const entries = tree.sorted();
    const rules = new BundleRules();
    let contents = 0;
    for (const entry of entries) {
        rules.admit(entry.path, entry.kind, entry.linkTarget);
        if (entry.kind !== 'directory')
            contents++;
    }
    rules.finish();
    refuseEmpty(contents);
    return entries;
}
/** The entries found so far, each path once. */
class Tree {
    base;
    #found = new Map();
    constructor(base) {
        this.base = base;
    }
    /** A path a pattern matched (`''`: the root), with its parents and, for a directory, all below. */
    async addMatch(match) {
        if (match === '') {
            await this.#walk('');
            return;
        }
        await this.#addParents(match);
        await this.#add(match, await lstat(join(this.base, match)));
    }
    sorted() {
        return [...this.#found.values()].sort((a, b) => compareUtf8(a.path, b.path));
    }
    async #add(path, stats) {
        if (this.#found.has(path))
            return;
        const entry = await describe(this.base, path, stats);
        this.#found.set(path, entry);
        if (entry.kind === 'directory')
            await this.#walk(path);
    }
    async #walk(directory) {
        const children = await readdir(join(this.base, directory), {
            withFileTypes: true,
            encoding: 'buffer',
        });
        const paths = children.map((child) => childPath(directory, child));
        const stats = await Promise.all(paths.map((path) => lstat(join(this.base, path))));
        for (const [index, path] of paths.entries())
            await this.#add(path, stats[index]);
    }
    /** Adds the directories above a match, nearest first, stopping at one already found. */
    async #addParents(path) {
        for (let cut = path.lastIndexOf('/'); cut !== -1; cut = path.lastIndexOf('/', cut - 1)) {
            const parent = path.slice(0, cut);
            const known = this.#found.get(parent);
            if (known?.kind === 'directory')
                return;
            const stats = known === undefined ? await lstat(join(this.base, parent)) : undefined;
            if (known !== undefined || !stats?.isDirectory()) {
                throw new ConfigurationError({
                    subject: `${entrySubject(path)} below the symlink ${quoted(parent)}`,
                    problem: 'is reached through the symlink',
                    hint: 'name the link itself or its target',
                });
            }
            this.#found.set(parent, directoryEntry(parent));
        }
    }
}
/** The paths one pattern names, relative to the root; `''` stands for the root itself. */
async function expand(base, pattern) {
    const literal = normalisePath(pattern, () => quoted(pattern));
    if (literal === '')
        return [''];
    if (await lstatOrUndefined(join(base, literal)))
        return [literal];
    if (!GLOB_MAGIC.test(pattern))
        return [];
    const matches = [];
    for await (const match of glob(pattern, { cwd: base })) {
        matches.push(normalisePath(match, () => quoted(pattern)));
    }
    return matches;
}
async function describe(base, path, stats) {
    if (stats.isDirectory())
        return directoryEntry(path);
    if (stats.isFile()) {
        return { path, kind: 'file', size: stats.size, executable: (stats.mode & 0o111) !== 0 };
    }
    if (stats.isSymbolicLink()) {
        const linkTarget = await readlink(join(base, path));
        return { path, kind: 'symlink', size: 0, executable: false, linkTarget };
    }
    const what = stats.isFIFO()
        ? 'a fifo'
        : stats.isSocket()
            ? 'a socket'
            : stats.isCharacterDevice() || stats.isBlockDevice()
                ? 'a device'
                : 'not a file';
    throw new ConfigurationError({
        subject: entrySubject(path),
        problem: `is ${what}`,
        hint: ONLY_THREE_KINDS,
    });
}
function directoryEntry(path) {
    return { path, kind: 'directory', size: 0, executable: true };
}
function childPath(directory, child) {
    let name;
    try {
        name = utf8.decode(child.name);
    }
    catch {
        throw new ConfigurationError({
            subject: `entry ${quotedBytes(Buffer.concat([Buffer.from(directory ? `${directory}/` : ''), child.name]))}`,
            problem: 'has a name that is not valid UTF-8',
            hint: 'a bundle’s names are UTF-8, as every host reads them',
        });
    }
    return directory ? `${directory}/${name}` : name;
}
async function lstatOrUndefined(path) {
    try {
        return await lstat(path);
    }
    catch (error) {
        if (error.code === 'ENOENT')
            return undefined;
        throw error;
    }
}

// EXTERNAL MODULE: external "node:util"
var external_node_util_ = __webpack_require__(7975);
// EXTERNAL MODULE: external "node:zlib"
var external_node_zlib_ = __webpack_require__(8522);
var external_node_zlib_default = /*#__PURE__*/__webpack_require__.n(external_node_zlib_);
;// CONCATENATED MODULE: ./shared/bundle/zstd-frames.ts


/** A stream that is not zstd as RFC 8878 lays it out. */
class ZstdFormatError extends Error {
}
const FRAME_MAGIC = 0xfd2fb528;
const SKIPPABLE_MASK = 0xfffffff0;
const SKIPPABLE_MAGIC = 0x184d2a50;
/** The bytes of each field read whole before it is looked at. */
const FIELD_BYTES = { magic: 4, 'skippable-size': 4, descriptor: 1, 'block-header': 3 };
/** Splits a zstd stream at its frames' ends, as the bytes come. */
class ZstdFrameSplitter {
    #state = { at: 'magic' };
    /** Bytes of a field read so far: a magic number, a descriptor, a block header. */
    #field = [];
    #skippable = false;
    /** The pieces of `chunk`, cut where frames end. */
    push(chunk) {
        const pieces = [];
        let start = 0;
        let at = 0;
        while (at < chunk.length) {
            const ended = this.#step(chunk, at);
            at = ended.at;
            if (ended.frameEnded) {
                pieces.push({ bytes: chunk.subarray(start, at), last: true, skippable: this.#skippable });
                start = at;
            }
        }
        if (start < chunk.length) {
            pieces.push({ bytes: chunk.subarray(start), last: false, skippable: this.#skippable });
        }
        return pieces;
    }
    /** Throws unless the stream ended between frames. */
    end() {
        if (this.#state.at !== 'magic' || this.#field.length > 0) {
            throw new ZstdFormatError('the data ends inside a frame');
        }
    }
    /** Reads from `at` as far as the current field or run of bytes goes. */
    #step(chunk, at) {
        const state = this.#state;
        switch (state.at) {
            case 'skipping':
            case 'block':
            case 'checksum':
            case 'header': {
                const count = Math.min(state.left, chunk.length - at);
                state.left -= count;
                if (state.left > 0)
                    return { at: at + count, frameEnded: false };
                return { at: at + count, frameEnded: this.#after(state) };
            }
            default: {
                const size = FIELD_BYTES[state.at];
                while (this.#field.length < size && at < chunk.length)
                    this.#field.push(chunk[at++] ?? 0);
                if (this.#field.length < size)
                    return { at, frameEnded: false };
                const field = this.#field;
                this.#field = [];
                return { at, frameEnded: this.#read(field) };
            }
        }
    }
    /** A field read whole: moves to what follows it; true when that ends a frame. */
    #read(field) {
        const state = this.#state;
        const value = (field[0] ?? 0) | ((field[1] ?? 0) << 8) | ((field[2] ?? 0) << 16);
        switch (state.at) {
            case 'magic': {
                const magic = (value | ((field[3] ?? 0) << 24)) >>> 0;
                if (magic === FRAME_MAGIC) {
                    this.#skippable = false;
                    this.#state = { at: 'descriptor' };
                }
                else if ((magic & SKIPPABLE_MASK) >>> 0 === SKIPPABLE_MAGIC) {
                    this.#skippable = true;
                    this.#state = { at: 'skippable-size' };
                }
                else {
                    throw new ZstdFormatError('a frame does not start with zstd’s magic number');
                }
                return false;
            }
            case 'skippable-size': {
                const left = (value | ((field[3] ?? 0) << 24)) >>> 0;
                this.#state = { at: 'skipping', left };
                return left === 0 ? this.#after(this.#state) : false;
            }
            case 'descriptor': {
                const descriptor = value;
                if ((descriptor & 0x08) !== 0)
                    throw new ZstdFormatError('a frame header sets its reserved bit');
                const singleSegment = (descriptor & 0x20) !== 0;
                const fcsFlag = descriptor >> 6;
                const fcsBytes = [singleSegment ? 1 : 0, 2, 4, 8][fcsFlag] ?? 0;
                const dictionaryBytes = [0, 1, 2, 4][descriptor & 0x03] ?? 0;
                const left = (singleSegment ? 0 : 1) + dictionaryBytes + fcsBytes;
                const checksum = (descriptor & 0x04) !== 0;
                this.#state = { at: 'header', left, checksum };
                return left === 0 ? this.#after(this.#state) : false;
            }
            case 'block-header': {
                const last = (value & 1) === 1;
                const type = (value >> 1) & 3;
                const size = value >>> 3;
                if (type === 3)
                    throw new ZstdFormatError('a block has the reserved type');
                const left = type === 1 ? 1 : size;
                this.#state = { at: 'block', left, last, checksum: state.checksum };
                return left === 0 ? this.#after(this.#state) : false;
            }
            default:
                return false;
        }
    }
    /** A run of bytes read whole: moves to what follows it; true when that ends a frame. */
    #after(state) {
        switch (state.at) {
            case 'header':
                this.#state = { at: 'block-header', checksum: state.checksum };
                return false;
            case 'block':
                if (!state.last) {
                    this.#state = { at: 'block-header', checksum: state.checksum };
                    return false;
                }
                if (state.checksum) {
                    this.#state = { at: 'checksum', left: 4 };
                    return false;
                }
                this.#state = { at: 'magic' };
                return true;
            default:
                this.#state = { at: 'magic' };
                return true;
        }
    }
}
/** The pieces of a zstd stream, cut where its frames end; throws if it ends inside one. */
async function* splitZstdFrames(source) {
    const splitter = new ZstdFrameSplitter();
    for await (const chunk of source)
        yield* splitter.push(chunk);
    splitter.end();
}
/** One frame's bytes, from its first piece to its last. */
async function* frameBytes(pieces, first) {
    let piece = first;
    if (piece.bytes.length > 0)
        yield piece.bytes;
    while (!piece.last) {
        const next = await pieces.next();
        if (next.done)
            throw new ZstdFormatError('the data ends inside a frame');
        piece = next.value;
        if (piece.bytes.length > 0)
            yield piece.bytes;
    }
}
/**
 * Decompresses a zstd stream of any number of frames, each by a stream of its own, checking
 * that each took its frame whole. `chunkSize`: the bytes each piece of output holds at most;
 * `onFrame` is told of each frame once its output has all been handed on.
 */
async function* decompressZstd(source, chunkSize, onFrame) {
    const pieces = splitZstdFrames(source)[Symbol.asyncIterator]();
    for (let next = await pieces.next(); !next.done; next = await pieces.next()) {
        const first = next.value;
        if (first.skippable) {
            let compressed = 0;
            for await (const skipped of frameBytes(pieces, first))
                compressed += skipped.length;
            onFrame?.({ compressed, decompressed: 0 });
            continue;
        }
        let frameLength = 0;
        async function* counted() {
            for await (const bytes of frameBytes(pieces, first)) {
                frameLength += bytes.length;
                yield bytes;
            }
        }
        const decompressor = external_node_zlib_default().createZstdDecompress({ chunkSize });
        let done;
        const settled = new Promise((resolve) => (done = resolve));
        const output = (0,external_node_stream_.pipeline)(external_node_stream_.Readable.from(counted()), decompressor, (error) => done(error));
        let decompressed = 0;
        for await (const chunk of output) {
            decompressed += chunk.length;
            yield chunk;
        }
        const failure = await settled;
        if (failure)
            throw failure;
        // A frame the library took for whole before its last byte: the rest would be lost.
        if (decompressor.bytesWritten !== frameLength) {
            throw new ZstdFormatError('a frame ends before the end its blocks give');
        }
        onFrame?.({ compressed: frameLength, decompressed });
    }
}

;// CONCATENATED MODULE: ./shared/bundle/compression.ts





/**
 * Tar bytes per compressed frame. Each frame is compressed on its own in libuv's pool, which is
 * how packing keeps up with `zstd -T0`; zstd, gzip and every tar that calls them read
 * concatenated frames (gzip members) as one stream. Node's zstd streams are not used: with
 * worker threads they fail (nodejs/node#59899), and `end()` with writes queued appends an empty
 * frame (nodejs/node#66078), which would make the bytes depend on timing.
 */
const FRAME_BYTES = 2 * 1024 * 1024;
const ZSTD_LEVEL = 3;
const GZIP_LEVEL = 6;
/** The OS byte of a gzip header: zlib writes the platform it was built for; Unix everywhere. */
const GZIP_OS_UNIX = 3;
const zstdCompress = (0,external_node_util_.promisify)((external_node_zlib_default()).zstdCompress);
const gzip = (0,external_node_util_.promisify)((external_node_zlib_default()).gzip);
/**
 * Output a compression of the runner's streams writes at once. zlib allocates its output buffer
 * at the `chunkSize` it is given and copies the result out: sized for the frame (2 MiB), each
 * frame left 2 MiB of garbage that V8 frees only every 64 MiB of it, where a frame of text
 * compresses to a few hundred KiB, one or two of these. Each more piece is a trip to libuv's
 * pool and back, though: packing, where the frames may not compress at all and memory is not
 * kept down, asks for the frame's size, one trip.
 */
const WIRE_OUTPUT_CHUNK = 256 * 1024;
/**
 * One frame: a complete zstd frame or gzip member of its own. `outputChunk`: the bytes of each
 * piece of output zlib writes; by default all of it at once.
 */
async function compressFrame(data, compression, outputChunk = data.length + 1024) {
    const chunkSize = Math.min(data.length + 1024, outputChunk);
    if (compression === 'zstd') {
        return zstdCompress(data, {
            chunkSize,
            params: {
                [(external_node_zlib_default()).constants.ZSTD_c_compressionLevel]: ZSTD_LEVEL,
                [(external_node_zlib_default()).constants.ZSTD_c_checksumFlag]: 1,
            },
        });
    }
    const member = await gzip(data, { level: GZIP_LEVEL, chunkSize });
    member[9] = GZIP_OS_UNIX;
    return member;
}
/**
 * Bytes a decompressing stream hands out at once. Each piece is a trip to libuv's pool and back:
 * at zlib's default of 16 KiB, a 1 GiB bundle is 65,536 of them, and the trips, not the work,
 * set the pace.
 */
const DECOMPRESS_CHUNK = 512 * 1024;
const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);
const GZIP_MAGIC = Buffer.from([0x1f, 0x8b]);
/** What the first bytes of a bundle say it is compressed with; `undefined` for a plain tar. */
function detectCompression(head) {
    if (head.subarray(0, 4).equals(ZSTD_MAGIC))
        return 'zstd';
    if (head.subarray(0, 2).equals(GZIP_MAGIC))
        return 'gzip';
    return undefined;
}
/**
 * Decompresses a bundle: zstd or gzip as its magic bytes say, or as `expected` insists; a plain
 * tar passes through when nothing is expected. `onFrame` is told of each zstd frame.
 */
async function* decompress(source, expected, onFrame) {
    const iterator = source[Symbol.asyncIterator]();
    const head = [];
    let headLength = 0;
    while (headLength < ZSTD_MAGIC.length) {
        const next = await iterator.next();
        if (next.done)
            break;
        head.push(next.value);
        headLength += next.value.length;
    }
    const first = Buffer.concat(head);
    const found = detectCompression(first);
    if (expected !== undefined && found !== expected) {
        throw new errors/* ConfigurationError */.j1({
            subject: 'the bundle',
            expected: `${expected}-compressed data`,
            got: `data that starts like ${found ?? 'a plain tar'}`,
        });
    }
    async function* all() {
        if (first.length > 0)
            yield first;
        for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
            yield next.value;
        }
    }
    if (found === undefined) {
        yield* all();
        return;
    }
    // zstd frame by frame (zstd-frames.ts); gzip's stream reads member after member itself.
    const output = found === 'zstd'
        ? decompressZstd(all(), DECOMPRESS_CHUNK, onFrame)
        : (0,external_node_stream_.pipeline)(external_node_stream_.Readable.from(all()), external_node_zlib_default().createGunzip({ chunkSize: DECOMPRESS_CHUNK }), () => undefined);
    try {
        for await (const chunk of output)
            yield chunk;
    }
    catch (error) {
        // zlib's own errors say the data is bad; anything else (a read error) passes unchanged.
        const code = error.code ?? '';
        if (!(error instanceof ZstdFormatError) && !/^(Z_|ZSTD_error_)/.test(code))
            throw error;
        throw new errors/* ConfigurationError */.j1({
            subject: 'the bundle',
            problem: `is not valid ${found} data`,
            got: error.message,
        });
    }
}

;// CONCATENATED MODULE: ./shared/bundle/frames.ts




/** Frames laid out ahead of the one being written: enough to keep reads and compression busy. */
const FRAMES_AHEAD = 4;
/** File reads in flight at once. */
const READS = 16;
/** Frames compressed at once: one per core, leaving libuv's pool a thread for the reads. */
const COMPRESSIONS = Math.max(1, Math.min((0,external_node_os_.availableParallelism)(), 3));
/**
 * Lays a tar stream out into fixed-size frames and compresses each on its own. File contents are
 * read straight into the frame where they belong, many files at once, so nothing is copied twice
 * and memory holds a handful of frames whatever the size of the tree. Frames are cut at fixed
 * offsets, so the output depends on the bytes alone, never on timing.
 */
class frames_FrameWriter {
    #compression;
    #emit;
    #pool = [];
    #queue = [];
    #reads = new Slots(READS);
    #compressions = new Slots(COMPRESSIONS);
    #outputChunk;
    #frame;
    /** `outputChunk`: what compressFrame's output comes in; by default a frame's in one piece. */
    constructor(compression, emit, outputChunk) {
        this.#compression = compression;
        this.#emit = emit;
        this.#outputChunk = outputChunk;
        this.#frame = this.#newFrame();
    }
    /** Appends bytes held in memory: headers, the end of the archive. */
    async put(bytes) {
        let offset = 0;
        while (offset < bytes.length) {
            const count = Math.min(bytes.length - offset, FRAME_BYTES - this.#frame.filled);
            bytes.copy(this.#frame.buffer, this.#frame.filled, offset, offset + count);
            this.#frame.filled += count;
            offset += count;
            if (this.#frame.filled === FRAME_BYTES)
                await this.#seal();
        }
    }
    /** Appends zero bytes: frames are reused, so padding is written, never assumed. */
    async zeros(count) {
        let left = count;
        while (left > 0) {
            const run = Math.min(left, FRAME_BYTES - this.#frame.filled);
            this.#frame.buffer.fill(0, this.#frame.filled, this.#frame.filled + run);
            this.#frame.filled += run;
            left -= run;
            if (this.#frame.filled === FRAME_BYTES)
                await this.#seal();
        }
    }
    /** Appends `size` bytes of the file at `path`, read into the frames in the background. */
    async file(path, size) {
        let position = 0;
        while (position < size) {
            const frame = this.#frame;
            const length = Math.min(size - position, FRAME_BYTES - frame.filled);
            await this.#reads.acquire();
            const read = readSegment(path, frame.buffer, frame.filled, length, position).finally(() => this.#reads.release());
            // Awaited when the frame is sealed; this only keeps an early failure from going unhandled.
            read.catch(() => undefined);
            frame.reads.push(read);
            frame.filled += length;
            position += length;
            if (frame.filled === FRAME_BYTES)
                await this.#seal();
        }
    }
    /** Seals the last frame and waits until every frame has been emitted, in order. */
    async finish() {
        if (this.#frame.filled > 0)
            this.#queueFrame(this.#frame);
        while (this.#queue.length > 0)
            await this.#emit(await this.#queue.shift());
    }
    /** Waits for reads and compressions under way, so nothing writes into a frame afterwards. */
    async abort() {
        await Promise.allSettled([...this.#frame.reads, ...this.#queue]);
    }
    async #seal() {
        this.#queueFrame(this.#frame);
        this.#frame = this.#newFrame();
        while (this.#queue.length > FRAMES_AHEAD) {
            await this.#emit(await this.#queue.shift());
        }
    }
    #queueFrame(frame) {
        const compressed = (async () => {
            // Settled, not raced: a failed read must not hand back a buffer others still write to.
            const reads = await Promise.allSettled(frame.reads);
            const failed = reads.find((read) => read.status === 'rejected');
            if (failed)
                throw failed.reason;
            const data = frame.buffer.subarray(0, frame.filled);
            const result = await this.#compressions.run(() => compressFrame(data, this.#compression, this.#outputChunk));
            this.#pool.push(frame.buffer);
            return result;
        })();
        compressed.catch(() => undefined);
        this.#queue.push(compressed);
    }
    #newFrame() {
        return { buffer: this.#pool.pop() ?? Buffer.allocUnsafe(FRAME_BYTES), filled: 0, reads: [] };
    }
}
async function readSegment(path, buffer, offset, length, position) {
    const handle = await (0,external_node_fs_promises_.open)(path, 'r');
    try {
        let done = 0;
        while (done < length) {
            const { bytesRead } = await handle.read(buffer, offset + done, length - done, position + done);
            if (bytesRead === 0) {
                throw new errors/* ConfigurationError */.j1({
                    subject: `file ${(0,errors/* quoted */.TL)(path)}`,
                    problem: 'changed size while it was packed',
                    hint: 'run the build command before packing',
                });
            }
            done += bytesRead;
        }
    }
    finally {
        await handle.close();
    }
}
/** A counting semaphore. */
class Slots {
    #free;
    #waiting = [];
    constructor(count) {
        this.#free = count;
    }
    async acquire() {
        if (this.#free > 0) {
            this.#free--;
            return;
        }
        await new Promise((resolve) => this.#waiting.push(resolve));
    }
    release() {
        const next = this.#waiting.shift();
        if (next)
            next();
        else
            this.#free++;
    }
    async run(task) {
        await this.acquire();
        try {
            return await task();
        }
        finally {
            this.release();
        }
    }
}

;// CONCATENATED MODULE: ./shared/bundle/tar.ts
const BLOCK = 512;
/** Two zero blocks: the end of a tar archive. */
const tar_END_OF_ARCHIVE = Buffer.alloc(2 * BLOCK);
/** The only modes a bundle carries: no setuid, no group or world write, no owner quirks. */
function entryMode(kind, executable) {
    if (kind === 'directory')
        return 0o755;
    if (kind === 'symlink')
        return 0o777;
    return executable ? 0o755 : 0o644;
}
/** Zero bytes after `size` bytes of content, up to the next 512-byte block. */
function tar_paddingAfter(size) {
    return (BLOCK - (size % BLOCK)) % BLOCK;
}
/** The largest size an 11-digit octal field holds; larger files get a pax `size` record. */
const MAX_OCTAL_SIZE = 8 ** 11 - 1;
/** The latest mtime a ustar header holds (11 octal digits): early in the year 2242. */
const tar_MAX_MTIME = 8 ** 11 - 1;
/**
 * The header blocks of one entry, in the POSIX ustar format: uid and gid 0, no user or group
 * names, one mtime, normalised modes, `/` after a directory's name. What ustar cannot hold (a
 * long or non-ASCII name or link target, a file of 8 GiB or more) goes into a pax extended header
 * first, as GNU tar and every POSIX tar read it. The same entry always gives the same bytes.
 */
function tar_encodeHeader(entry, mtime) {
    const out = Buffer.alloc(headerLength(entry));
    writeHeader(entry, mtime, out, 0);
    return out;
}
/** What ustar cannot hold of an entry: its pax records, or none. */
function paxRecords(name, linkname, size) {
    const records = [];
    if (splitName(name) === undefined)
        records.push(paxRecord('path', name));
    if (linkname !== '' && !fitsUstar(linkname, 100))
        records.push(paxRecord('linkpath', linkname));
    if (size > MAX_OCTAL_SIZE)
        records.push(paxRecord('size', String(size)));
    return records;
}
function parts(entry) {
    const name = entry.kind === 'directory' ? `${entry.path}/` : entry.path;
    const linkname = entry.kind === 'symlink' ? (entry.linkTarget ?? '') : '';
    const size = entry.kind === 'file' ? entry.size : 0;
    return { name, linkname, size };
}
/** The bytes encodeHeader gives an entry: 512, or more with a pax header. */
function headerLength(entry) {
    const { name, linkname, size } = parts(entry);
    const records = paxRecords(name, linkname, size);
    if (records.length === 0)
        return BLOCK;
    const pax = Buffer.byteLength(records.join(''), 'utf-8');
    return BLOCK + pax + tar_paddingAfter(pax) + BLOCK;
}
/**
 * Writes an entry's header blocks into `out` at `at`, as encodeHeader makes them, and returns
 * their length: a stream of many entries is written in place, without a buffer per header.
 */
function writeHeader(entry, mtime, out, at) {
    const { name, linkname, size } = parts(entry);
    const mode = entry.mode ?? entryMode(entry.kind, entry.executable);
    const type = entry.kind === 'file' ? '0' : entry.kind === 'symlink' ? '2' : '5';
    return writeEntry({ name, linkname, size, mode, type }, mtime, out, at);
}
/**
 * Writes a hard-link entry into `out` at `at` and returns its length: `path` made a second name
 * of the file already at `target` (a long target in a pax record, as a symlink's), with the
 * file's own mode: a tar that applies modes to hard links must not change the file it links to.
 */
function writeHardLink(link, mtime, out, at) {
    const mode = entryMode('file', link.executable);
    const fields = { name: link.path, linkname: link.target, size: 0, mode, type: '1' };
    return writeEntry(fields, mtime, out, at);
}
/** An entry's header blocks: a pax header first for what ustar cannot hold, then the ustar one. */
function writeEntry(entry, mtime, out, at) {
    const { name, linkname, size } = entry;
    const records = paxRecords(name, linkname, size);
    let offset = at;
    if (records.length > 0) {
        const pax = Buffer.from(records.join(''), 'utf-8');
        const fields = { name: 'PaxHeader', prefix: '', mode: 0o644, size: pax.length, mtime };
        writeUstar({ ...fields, type: 'x', linkname: '' }, out, offset);
        pax.copy(out, offset + BLOCK);
        const padding = tar_paddingAfter(pax.length);
        out.fill(0, offset + BLOCK + pax.length, offset + BLOCK + pax.length + padding);
        offset += BLOCK + pax.length + padding;
    }
    const split = splitName(name);
    writeUstar({
        name: split?.name ?? ustarFallback(name),
        prefix: split?.prefix ?? '',
        mode: entry.mode,
        size: size > MAX_OCTAL_SIZE ? 0 : size,
        mtime,
        type: entry.type,
        linkname: fitsUstar(linkname, 100) ? linkname : '',
    }, out, offset);
    return offset + BLOCK - at;
}
/**
 * Text into a field as latin1 (a character's low byte), cut to the field: what Buffer.write
 * does, without a call into C++ per field. Returns the sum of the bytes written, for the
 * checksum.
 */
function tar_text(block, value, offset, length) {
    const count = Math.min(value.length, length);
    let sum = 0;
    for (let i = 0; i < count; i++) {
        const byte = value.charCodeAt(i) & 0xff;
        block[offset + i] = byte;
        sum += byte;
    }
    return sum;
}
/**
 * Writes one header block. The checksum is the sum of the bytes written (the rest are zeros)
 * with its own field read as spaces: no second pass over the block.
 */
function writeUstar(fields, block, at) {
    block.fill(0, at, at + BLOCK);
    let sum = 8 * 0x20;
    sum += tar_text(block, fields.name, at, 100);
    sum += octal(block, fields.mode, at + 100, 8);
    sum += octal(block, 0, at + 108, 8);
    sum += octal(block, 0, at + 116, 8);
    sum += octal(block, fields.size, at + 124, 12);
    sum += octal(block, fields.mtime, at + 136, 12);
    sum += tar_text(block, fields.type, at + 156, 1);
    sum += tar_text(block, fields.linkname, at + 157, 100);
    sum += tar_text(block, 'ustar\x0000', at + 257, 8);
    sum += octal(block, 0, at + 329, 8);
    sum += octal(block, 0, at + 337, 8);
    sum += tar_text(block, fields.prefix, at + 345, 155);
    // Six octal digits, a NUL and a space.
    octal(block, sum, at + 148, 7);
    block[at + 155] = 0x20;
}
/**
 * An octal number filling a field but its last byte, which stays NUL; returns the sum of the
 * digits' bytes. The number fits: sizes and mtimes too large for the field go elsewhere.
 */
function octal(block, value, offset, length) {
    let sum = 0;
    let rest = value;
    for (let i = offset + length - 2; i >= offset; i--) {
        const digit = 0x30 + (rest % 8);
        block[i] = digit;
        sum += digit;
        rest = Math.floor(rest / 8);
    }
    return sum;
}
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;
function fitsUstar(value, length) {
    return PRINTABLE_ASCII.test(value) && value.length <= length;
}
/** Splits a name into ustar's prefix (155 bytes) and name (100 bytes) at a `/`, if it fits. */
function splitName(name) {
    if (!PRINTABLE_ASCII.test(name))
        return undefined;
    if (name.length <= 100)
        return { prefix: '', name };
    // A directory's trailing `/` belongs to the name part; the split is at a `/` before it.
    for (let cut = name.indexOf('/'); cut !== -1; cut = name.indexOf('/', cut + 1)) {
        const prefix = name.slice(0, cut);
        const rest = name.slice(cut + 1);
        if (prefix.length > 155)
            return undefined;
        if (rest.length <= 100 && rest !== '' && rest !== '/')
            return { prefix, name: rest };
    }
    return undefined;
}
/** What a tar that ignores pax headers sees instead of a name only pax can hold. */
function ustarFallback(name) {
    return Buffer.from(name, 'utf-8').subarray(0, 100).toString('latin1');
}
function paxRecord(key, value) {
    const body = ` ${key}=${value}\n`;
    // The length counts its own digits.
    const bodyLength = Buffer.byteLength(body, 'utf-8');
    const digits = String(bodyLength).length;
    let length = bodyLength + digits;
    if (String(length).length > digits)
        length++;
    return `${length}${body}`;
}

;// CONCATENATED MODULE: ./shared/bundle/pack.ts










/**
 * Packs a tree into a reproducible bundle at `destination`: entries sorted by path, parents
 * included, one mtime, uid/gid 0, no user names, modes 0755 (directories, executables), 0644
 * (other files) and 0777 (symlinks). The digest is computed while the bytes are written: one
 * pass, no second read. Memory is bounded: a few frames of the tar are held, never the tree.
 */
async function packBundle(options, destination) {
    if (!Number.isSafeInteger(options.mtime) || options.mtime < 0 || options.mtime > MAX_MTIME) {
        throw new ConfigurationError({
            subject: 'the bundle mtime',
            expected: `whole seconds since 1970, at most ${MAX_MTIME}`,
            got: String(options.mtime),
        });
    }
    const entries = 'entries' in options ? options.entries : await resolveEntries(options.root, options.patterns);
    const hash = createHash('sha256');
    let size = 0;
    const output = createWriteStream(destination, { highWaterMark: 1024 * 1024 });
    const written = finished(output);
    written.catch(() => undefined);
    const frames = new FrameWriter(options.compression, async (compressed) => {
        hash.update(compressed);
        size += compressed.length;
        if (!output.write(compressed))
            await Promise.race([once(output, 'drain'), written]);
    });
    try {
        let bytes = 0;
        for (const [index, entry] of entries.entries()) {
            await frames.put(encodeHeader(entry, options.mtime));
            if (entry.kind === 'file') {
                await frames.file(join(options.root, entry.path), entry.size);
                await frames.zeros(paddingAfter(entry.size));
                bytes += entry.size;
            }
            options.onProgress?.({ entries: index + 1, total: entries.length, bytes });
        }
        await frames.put(END_OF_ARCHIVE);
        await frames.finish();
        output.end();
        await written;
    }
    catch (error) {
        await frames.abort();
        output.destroy();
        await written.catch(() => undefined);
        await rm(destination, { force: true });
        throw error;
    }
    const count = (kind) => entries.filter((e) => e.kind === kind).length;
    return {
        digest: `sha256:${hash.digest('hex')}`,
        size,
        files: count('file'),
        directories: count('directory'),
        symlinks: count('symlink'),
        topLevel: [...new Set(entries.map((entry) => entry.path.split('/')[0]))].sort(),
    };
}

;// CONCATENATED MODULE: ./shared/bundle/byte-queue.ts
/**
 * Bytes from an iterator of chunks, read by exact counts. `cutShort` makes the error for input
 * that ends part-way, told where (`inside an entry`).
 */
class ByteQueue {
    source;
    cutShort;
    #chunks = [];
    #buffered = 0;
    /** Bytes handed out so far. */
    consumed = 0;
    constructor(source, cutShort) {
        this.source = source;
        this.cutShort = cutShort;
    }
    /** Exactly `count` bytes; `undefined` at the end of the input, an error if it ends part-way. */
    async read(count) {
        while (this.#buffered < count) {
            const next = await this.source.next();
            if (next.done) {
                if (this.#buffered === 0)
                    return undefined;
                throw this.cutShort('inside a header or an entry');
            }
            this.#chunks.push(next.value);
            this.#buffered += next.value.length;
        }
        const all = this.#chunks.length === 1 ? this.#chunks[0] : Buffer.concat(this.#chunks);
        this.#chunks.length = 0;
        if (all.length > count)
            this.#chunks.push(all.subarray(count));
        this.#buffered -= count;
        this.consumed += count;
        return all.subarray(0, count);
    }
    /** Between 1 and `max` bytes, as they come. */
    async next(max) {
        if (this.#buffered === 0) {
            const next = await this.source.next();
            if (next.done)
                throw this.cutShort('inside an entry');
            this.#chunks.push(next.value);
            this.#buffered += next.value.length;
        }
        const first = this.#chunks.shift();
        const taken = first.length > max ? first.subarray(0, max) : first;
        if (first.length > max)
            this.#chunks.unshift(first.subarray(max));
        this.#buffered -= taken.length;
        this.consumed += taken.length;
        return taken;
    }
    /** Reads the rest of the input and drops it. */
    async drain() {
        this.#chunks.length = 0;
        this.#buffered = 0;
        for (let next = await this.source.next(); !next.done; next = await this.source.next()) {
            void next.value;
        }
    }
    async close() {
        await this.source.return?.();
    }
}

;// CONCATENATED MODULE: ./shared/bundle/tar-reader.ts




/** An extended header (pax or GNU long name) larger than this is refused: none needs more. */
const MAX_EXTENDED_BYTES = 1024 * 1024;
const ZERO_BLOCK = Buffer.alloc(BLOCK);
const tar_reader_utf8 = new TextDecoder('utf-8', { fatal: true });
function invalid(problem, got) {
    return new errors/* ConfigurationError */.j1({
        subject: 'the bundle',
        problem: `is not a valid tar: ${problem}`,
        got,
    });
}
/**
 * Reads `source` (a plain tar) entry by entry; the rest after the end-of-archive blocks is read
 * and dropped. `layout` is kept up to date as the archive is read.
 */
async function* readTar(source, layout = { zeroPadding: true, end: undefined }) {
    const bytes = new ByteQueue(source[Symbol.asyncIterator](), (where) => invalid(`the archive ends ${where}`));
    try {
        let extended = {};
        let raw = [];
        for (;;) {
            const block = await bytes.read(BLOCK);
            // An archive cut short at an entry's end would read as a smaller one: its end must be there.
            if (block === undefined)
                throw invalid('the archive ends without its end-of-archive blocks');
            if (block.equals(ZERO_BLOCK)) {
                if (Object.keys(extended).length > 0)
                    throw invalid('an extended header has no entry after it');
                layout.end = bytes.consumed - BLOCK;
                await bytes.drain();
                return;
            }
            raw.push(block);
            const fields = readBlock(block);
            if ('LKx'.includes(fields.type)) {
                const { data, values } = await readExtended(bytes, fields);
                raw.push(data);
                extended = { ...extended, ...values };
                continue;
            }
            const header = applyExtended(fields, extended);
            extended = {};
            const content = new Content(bytes, header.size, layout);
            yield { header, raw, content };
            raw = [];
            await content.skip();
        }
    }
    finally {
        await bytes.close();
    }
}
function readBlock(block) {
    const checksum = readNumber(block, 148, 8, 'checksum');
    if (checksum !== unsignedSum(block) && checksum !== signedSum(block)) {
        throw invalid('a header checksum does not match');
    }
    const magic = block.toString('latin1', 257, 265);
    const posix = magic === 'ustar\u000000';
    if (!posix && magic !== 'ustar  \u0000') {
        throw invalid('a header has no ustar magic', (0,errors/* quoted */.TL)(magic));
    }
    const prefix = posix ? tar_reader_text(block, 345, 155, 'name') : '';
    const base = tar_reader_text(block, 0, 100, 'name');
    const typeflag = block[156] === 0 ? '0' : String.fromCharCode(block[156]);
    const name = prefix === '' ? base : `${prefix}/${base}`;
    for (const [offset, length, what] of [
        [108, 8, 'uid'],
        [116, 8, 'gid'],
        [329, 8, 'devmajor'],
        [337, 8, 'devminor'],
    ]) {
        readNumber(block, offset, length, what, true);
    }
    const size = readNumber(block, 124, 12, 'size');
    return {
        name,
        // Old tars mark a directory only by the `/` after its name.
        type: typeflag === '0' && name.endsWith('/') ? '5' : typeflag,
        mode: readNumber(block, 100, 8, 'mode'),
        size,
        blockSize: size,
        mtime: checkedMtime(readNumber(block, 136, 12, 'mtime'), name),
        linkname: tar_reader_text(block, 157, 100, 'link target'),
    };
}
/**
 * A numeric field: octal digits after optional spaces, ended by NUL or spaces to the field's end;
 * or GNU's base-256, marked by the high bit of the first byte. `optional` fields may be blank.
 */
function readNumber(block, offset, length, what, optional = false) {
    const field = block.subarray(offset, offset + length);
    if ((field[0] & 0x80) !== 0) {
        if ((field[0] & 0x40) !== 0)
            throw invalid(`the ${what} field is negative`);
        let value = field[0] & 0x3f;
        for (const byte of field.subarray(1))
            value = value * 256 + byte;
        if (!Number.isSafeInteger(value))
            throw invalid(`the ${what} field is too large`);
        return value;
    }
    const raw = field.toString('latin1');
    const match = /^ *([0-7]*)[ \0]*$/.exec(raw);
    if (match === null || (match[1] === '' && !optional)) {
        throw invalid(`the ${what} field is not an octal number`, (0,errors/* quoted */.TL)(raw));
    }
    return match[1] === '' ? 0 : parseInt(match[1], 8);
}
/** The largest mtime is what a ustar header's 11 octal digits hold again when the tar is rebuilt. */
function checkedMtime(mtime, name) {
    if (!Number.isSafeInteger(mtime) || mtime < 0 || mtime > tar_MAX_MTIME) {
        throw new errors/* ConfigurationError */.j1({
            subject: `entry ${(0,errors/* quoted */.TL)(name)}`,
            problem: 'has an mtime out of range',
            expected: `whole seconds from 0 to ${tar_MAX_MTIME}`,
            got: String(mtime),
        });
    }
    return mtime;
}
function unsignedSum(block) {
    let sum = 8 * 0x20;
    for (let i = 0; i < BLOCK; i++)
        if (i < 148 || i >= 156)
            sum += block[i];
    return sum;
}
function signedSum(block) {
    let sum = 8 * 0x20;
    for (let i = 0; i < BLOCK; i++)
        if (i < 148 || i >= 156)
            sum += (block[i] << 24) >> 24;
    return sum;
}
/** A NUL-terminated name field, which must be UTF-8. */
function tar_reader_text(block, offset, length, what) {
    const field = block.subarray(offset, offset + length);
    const end = field.indexOf(0);
    return decodeName(end === -1 ? field : field.subarray(0, end), what);
}
function decodeName(bytes, what) {
    try {
        return tar_reader_utf8.decode(bytes);
    }
    catch {
        throw new errors/* ConfigurationError */.j1({
            subject: `entry ${rules_quotedBytes(bytes)}`,
            problem: `has a ${what} that is not valid UTF-8`,
        });
    }
}
/** An extended header's data blocks, and what they say. */
async function readExtended(bytes, fields) {
    if (fields.blockSize > MAX_EXTENDED_BYTES) {
        throw invalid(`an extended header of ${fields.blockSize} bytes is larger than ${MAX_EXTENDED_BYTES}`);
    }
    const data = await bytes.read(fields.blockSize + paddingOf(fields.blockSize));
    if (data === undefined)
        throw invalid('the archive ends inside an extended header');
    const body = data.subarray(0, fields.blockSize);
    if (fields.type === 'x')
        return { data, values: tar_reader_paxRecords(body) };
    const end = body.indexOf(0);
    const value = decodeName(end === -1 ? body : body.subarray(0, end), 'name');
    return { data, values: fields.type === 'L' ? { name: value } : { linkname: value } };
}
/** `<length> <key>=<value>\n` records; the ones this reader does not apply are checked for form only. */
function tar_reader_paxRecords(body) {
    const extended = {};
    let offset = 0;
    while (offset < body.length) {
        const space = body.indexOf(0x20, offset);
        const lengthText = body.toString('latin1', offset, space === -1 ? offset : space);
        const length = /^[1-9][0-9]{0,7}$/.test(lengthText) ? Number(lengthText) : 0;
        if (space === -1 ||
            length === 0 ||
            offset + length > body.length ||
            body[offset + length - 1] !== 0x0a) {
            throw invalid('a pax record is malformed');
        }
        const record = decodeName(body.subarray(space + 1, offset + length - 1), 'pax record');
        offset += length;
        const equals = record.indexOf('=');
        if (equals < 1)
            throw invalid('a pax record has no key', (0,errors/* quoted */.TL)(record));
        applyPax(extended, record.slice(0, equals), record.slice(equals + 1));
    }
    return extended;
}
function applyPax(extended, key, value) {
    if (key.startsWith('GNU.sparse.'))
        throw invalid('sparse files are not supported');
    switch (key) {
        case 'path':
            extended.name = value;
            return;
        case 'linkpath':
            extended.linkname = value;
            return;
        case 'size':
            extended.size = paxNumber(key, value, /^[0-9]+$/);
            return;
        case 'mtime':
            extended.mtime = Math.floor(paxNumber(key, value, /^-?[0-9]+(\.[0-9]+)?$/));
            return;
        case 'uid':
        case 'gid':
            paxNumber(key, value, /^[0-9]+$/);
            return;
        case 'atime':
        case 'ctime':
            paxNumber(key, value, /^-?[0-9]+(\.[0-9]+)?$/);
            return;
        case 'hdrcharset':
            if (value !== 'ISO-IR 10646 2000 UTF-8')
                throw invalid('pax names are not UTF-8', (0,errors/* quoted */.TL)(value));
    }
}
function paxNumber(key, value, form) {
    const number = Number(value);
    if (!form.test(value) || !Number.isFinite(number) || Math.abs(number) > Number.MAX_SAFE_INTEGER) {
        throw invalid(`the pax ${key} record is not a number`, (0,errors/* quoted */.TL)(value));
    }
    return number;
}
function applyExtended(fields, extended) {
    const name = extended.name ?? fields.name;
    return {
        name,
        type: fields.type === '0' && name.endsWith('/') ? '5' : fields.type,
        mode: fields.mode,
        size: extended.size ?? fields.size,
        mtime: extended.mtime === undefined ? fields.mtime : checkedMtime(extended.mtime, name),
        linkname: extended.linkname ?? fields.linkname,
    };
}
function paddingOf(size) {
    return (BLOCK - (size % BLOCK)) % BLOCK;
}
/** An entry's content: `size` bytes, then padding to the next block. */
class Content {
    bytes;
    layout;
    #left;
    #padding;
    constructor(bytes, size, layout) {
        this.bytes = bytes;
        this.layout = layout;
        this.#left = size;
        this.#padding = paddingOf(size);
    }
    async *[Symbol.asyncIterator]() {
        while (this.#left > 0) {
            const chunk = await this.bytes.next(this.#left);
            this.#left -= chunk.length;
            yield chunk;
        }
    }
    /** Reads what the consumer left, so the next header is where the archive says. */
    async skip() {
        while (this.#left > 0)
            this.#left -= (await this.bytes.next(this.#left)).length;
        if (this.#padding === 0)
            return;
        const padding = await this.bytes.read(this.#padding);
        if (padding === undefined)
            throw invalid('the archive ends inside an entry');
        if (this.layout.zeroPadding && !padding.equals(ZERO_BLOCK.subarray(0, this.#padding))) {
            this.layout.zeroPadding = false;
        }
    }
}

;// CONCATENATED MODULE: ./shared/bundle/check.ts









/**
 * How much larger than itself a bundle may expand, by default: zstd and gzip make source, text
 * and JSON 3 to 20 times smaller, rarely more; a bundle that expands a hundredfold is a zip bomb
 * far more often than an app. Small bundles may always expand to the floor.
 */
const DEFAULT_EXPANSION_RATIO = 100;
/** What any bundle may expand to, however small: 1 GiB. */
const DEFAULT_EXPANSION_FLOOR = 1024 ** 3;
/** The default cap on the tar inside a bundle of `bundleBytes`: a hundred times it, at least 1 GiB. */
function defaultMaxExpandedBytes(bundleBytes) {
    return Math.max(DEFAULT_EXPANSION_FLOOR, DEFAULT_EXPANSION_RATIO * bundleBytes);
}
/**
 * Reads a bundle and yields its entries one by one, each checked before it is yielded: every
 * header field valid; only files, directories and symlinks; names and paths a host can create;
 * no absolute path, no `..`; no symlink resolving outside the bundle; nothing written twice or
 * through a symlink; the whole no larger than the cap. A refusal is a ConfigurationError thrown
 * from the iteration; what the whole bundle must satisfy (not empty, no symlink escaping through
 * other symlinks) is checked after the last entry.
 */
async function* checkedEntries(source, options = {}) {
    const { input, cap } = await opened(source, options);
    const hash = (0,external_node_crypto_.createHash)('sha256');
    const forwarding = options.onForwardable ? new Forwarding() : undefined;
    const onFrame = forwarding && ((frame) => forwarding.frames.push(frame));
    const tar = capped(decompress(hashed(input, hash), options.compression, onFrame), cap);
    const rules = new rules_BundleRules();
    let contents = 0;
    for await (const { header, raw, content } of readTar(tar, forwarding?.layout)) {
        const entry = admit(rules, header);
        forwarding?.see(raw, entry);
        if (entry === undefined)
            continue;
        if (entry.kind !== 'directory')
            contents++;
        yield { ...entry, content };
    }
    rules.finish();
    rules_refuseEmpty(contents);
    options.onDigest?.(`sha256:${hash.digest('hex')}`);
    options.onForwardable?.(forwarding?.result());
}
/** Whether a bundle's tar is still what the runner would write, as its entries are read. */
class Forwarding {
    frames = [];
    layout = { zeroPadding: true, end: undefined };
    #canonical = true;
    #scratch = Buffer.alloc(0);
    /** An entry's header blocks as read, and what passed of it (nothing: a skipped `./`). */
    see(raw, entry) {
        if (!this.#canonical)
            return;
        this.#canonical = entry !== undefined && this.#isCanonical(raw, entry);
    }
    #isCanonical(raw, entry) {
        const length = headerLength(entry);
        let rawLength = 0;
        for (const block of raw)
            rawLength += block.length;
        if (rawLength !== length)
            return false;
        if (this.#scratch.length < length)
            this.#scratch = Buffer.alloc(length);
        writeHeader(entry, entry.mtime, this.#scratch, 0);
        let at = 0;
        for (const block of raw) {
            if (this.#scratch.compare(block, 0, block.length, at, at + block.length) !== 0)
                return false;
            at += block.length;
        }
        return true;
    }
    result() {
        const { end, zeroPadding } = this.layout;
        const zstd = this.frames.some((frame) => frame.decompressed > 0);
        if (!this.#canonical || !zeroPadding || end === undefined || !zstd)
            return undefined;
        return { frames: this.frames, end };
    }
}
async function opened(source, options) {
    if (typeof source !== 'string') {
        return { input: source, cap: options.maxExpandedBytes ?? DEFAULT_EXPANSION_FLOOR };
    }
    const cap = options.maxExpandedBytes ?? defaultMaxExpandedBytes((await (0,external_node_fs_promises_.stat)(source)).size);
    return { input: (0,external_node_fs_.createReadStream)(source, { highWaterMark: 1 << 20 }), cap };
}
async function* hashed(input, hash) {
    for await (const chunk of input) {
        hash.update(chunk);
        yield chunk;
    }
}
async function* capped(tar, cap) {
    let total = 0;
    for await (const chunk of tar) {
        total += chunk.length;
        if (total > cap) {
            throw new errors/* ConfigurationError */.j1({
                subject: 'the bundle',
                problem: `expands to more than ${cap} bytes, the most allowed for it`,
                hint: 'a bundle this much larger unpacked than packed would fill a host’s disk',
            });
        }
        yield chunk;
    }
}
function admit(rules, header) {
    const kind = entryKind(header);
    const subject = () => rules_entrySubject(header.name);
    const path = rules_normalisePath(header.name, subject);
    if (path === '') {
        if (kind === 'directory')
            return undefined;
        throw new errors/* ConfigurationError */.j1({ subject: subject(), problem: 'has no name' });
    }
    if (kind !== 'file' && header.size > 0) {
        throw new errors/* ConfigurationError */.j1({ subject: subject(), problem: `is a ${kind} with content` });
    }
    const linkTarget = kind === 'symlink' ? header.linkname : undefined;
    rules.admit(path, kind, linkTarget);
    const executable = kind === 'file' && (header.mode & 0o111) !== 0;
    const size = kind === 'file' ? header.size : 0;
    return { path, kind, size, executable, mtime: header.mtime, linkTarget };
}
const REFUSED_TYPES = {
    '1': 'a hardlink',
    '3': 'a character device',
    '4': 'a block device',
    '6': 'a fifo',
};
function entryKind(header) {
    if (header.type === '0')
        return 'file';
    if (header.type === '2')
        return 'symlink';
    if (header.type === '5')
        return 'directory';
    const subject = rules_entrySubject(header.name);
    const refused = REFUSED_TYPES[header.type];
    if (refused !== undefined) {
        throw new errors/* ConfigurationError */.j1({
            subject,
            problem: `is ${refused}`,
            hint: 'a bundle holds only files, directories and symlinks',
        });
    }
    throw new errors/* ConfigurationError */.j1({
        subject,
        problem: 'has a type a bundle cannot hold',
        got: `typeflag ${(0,errors/* quoted */.TL)(header.type)}`,
    });
}
/**
 * A plain tar, rebuilt from the checked entries of a bundle, for a host that has tar but no
 * zstd. Only what passed the checks is written, with normalised headers, so quirks of the
 * original archive never reach the host's tar. On a refusal the stream fails before the tar's
 * end: the consumer must treat the extraction as failed and remove it.
 */
function checkedTar(source, options = {}) {
    return Readable.from(repack(source, options));
}
async function* repack(source, options) {
    for await (const entry of checkedEntries(source, options)) {
        yield encodeHeader(entry, entry.mtime);
        if (entry.kind !== 'file')
            continue;
        yield* entry.content;
        const padding = paddingAfter(entry.size);
        if (padding > 0)
            yield END_OF_ARCHIVE.subarray(0, padding);
    }
    yield END_OF_ARCHIVE;
}

;// CONCATENATED MODULE: ./shared/bundle.ts





/** `sha256:<hex>` of a bundle file, as packBundle reports it. */
async function bundle_bundleDigest(path) {
    const hash = createHash('sha256');
    for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
        hash.update(chunk);
    }
    return `sha256:${hash.digest('hex')}`;
}

;// CONCATENATED MODULE: ./shared/bundle/blocks.ts



/*
 * Files the runner keeps between verifying a bundle and sending it (the content file, the
 * bundle itself) are hashed by blocks as they are written, and every block read again is
 * checked against its digest: something that changes them on the runner in between never
 * reaches a host.
 */
/** A kept file is hashed and checked by blocks of this size. */
const CHECKED_BLOCK = 1024 * 1024;
/** Hashes a stream of bytes by blocks of CHECKED_BLOCK: the digests, one after the other. */
class BlockHasher {
    #digests = [];
    #hash = (0,external_node_crypto_.createHash)('sha256');
    #filled = 0;
    update(bytes) {
        let at = 0;
        while (at < bytes.length) {
            const count = Math.min(bytes.length - at, CHECKED_BLOCK - this.#filled);
            this.#hash.update(bytes.subarray(at, at + count));
            this.#filled += count;
            at += count;
            if (this.#filled === CHECKED_BLOCK)
                this.#next();
        }
    }
    #next() {
        this.#digests.push(this.#hash.digest());
        this.#hash = (0,external_node_crypto_.createHash)('sha256');
        this.#filled = 0;
    }
    finish() {
        if (this.#filled > 0)
            this.#next();
        return Buffer.concat(this.#digests);
    }
}
/** A block of a kept file that is not what was recorded. */
class BlockChanged extends Error {
}
/** The error a stream fails with when a kept file is not what was verified: `what` says which. */
function keptFileChanged(what) {
    return new errors/* ConfigurationError */.j1({
        subject: 'bundle',
        problem: what,
        hint: 'something else on the runner writes to its temporary directory',
    });
}
/**
 * Reads a kept file a block at a time, each block checked against the digest BlockHasher
 * recorded. A block read is kept for the reads after it: a file read front to back is read
 * once, the next block read and hashed in libuv's pool while this one is handed on. Pieces
 * handed out are only good until the next call: the caller copies them.
 */
class CheckedReader {
    #handle;
    #digests;
    #blocks;
    /** Buffers no block holds: two in all, the current block's and the next's. */
    #free = [Buffer.allocUnsafe(CHECKED_BLOCK), Buffer.allocUnsafe(CHECKED_BLOCK)];
    #current;
    #next;
    constructor(handle, digests) {
        this.#handle = handle;
        this.#digests = digests;
        this.#blocks = digests.length / 32;
    }
    /** A reader of `file`, whose blocks BlockHasher gave `digests`; close it when done. */
    static async open(file, digests) {
        return new CheckedReader(await (0,external_node_fs_promises_.open)(file, 'r'), digests);
    }
    /** `size` bytes from `offset`; throws BlockChanged if a block differs from its digest. */
    async *read(offset, size) {
        const end = offset + size;
        for (let at = offset; at < end;) {
            const block = Math.floor(at / CHECKED_BLOCK);
            if (this.#current?.block !== block)
                await this.#advance(block);
            const { bytes } = this.#current;
            const start = block * CHECKED_BLOCK;
            const to = Math.min(end, start + bytes.length);
            if (to <= at)
                throw new BlockChanged();
            yield bytes.subarray(at - start, to - start);
            at = to;
        }
    }
    /** Waits for what is being read ahead, then closes the file. */
    async close() {
        await this.#next?.loaded.catch(() => undefined);
        await this.#handle.close();
    }
    async #advance(block) {
        if (this.#current)
            this.#free.push(this.#current.buffer);
        this.#current = undefined;
        const next = this.#next;
        this.#next = undefined;
        if (next !== undefined && next.block !== block) {
            // Read ahead for nothing (a delta skips blocks): its buffer is free once it is done.
            const done = await next.loaded.catch(() => undefined);
            if (done)
                this.#free.push(done.buffer);
        }
        const loaded = next?.block === block ? next.loaded : this.#load(block);
        this.#current = await loaded;
        if (block + 1 < this.#blocks) {
            const ahead = this.#load(block + 1);
            // A block read ahead is checked when it is needed; one never needed fails nothing.
            ahead.catch(() => undefined);
            this.#next = { block: block + 1, loaded: ahead };
        }
    }
    async #load(block) {
        if (block >= this.#blocks)
            throw new BlockChanged();
        const buffer = this.#free.pop() ?? Buffer.allocUnsafe(CHECKED_BLOCK);
        const digest = this.#digests.subarray(block * 32, block * 32 + 32);
        const { bytesRead } = await this.#handle.read(buffer, 0, CHECKED_BLOCK, block * CHECKED_BLOCK);
        const bytes = buffer.subarray(0, bytesRead);
        // Hashed in libuv's pool, off the thread that writes the stream.
        const hashed = Buffer.from(await external_node_crypto_.webcrypto.subtle.digest('SHA-256', bytes));
        if (!hashed.equals(digest) || bytesRead === 0) {
            this.#free.push(buffer);
            throw new BlockChanged();
        }
        return { block, buffer, bytes };
    }
}

;// CONCATENATED MODULE: ./shared/bundle/file-index.ts



/** The first line of an index file: its format, so a later one can be told apart. */
const INDEX_HEADER = 'brr-index 1';
const KIND_LETTER = { file: 'f', directory: 'd', symlink: 'l' };
/** What a field cannot hold as it is: a backslash and the control characters. */
// eslint-disable-next-line no-control-regex
const NEEDS_ESCAPE = /[\\\x00-\x1f\x7f]/;
const ESCAPES = new RegExp(NEEDS_ESCAPE.source, 'g');
/**
 * A path or link target as one field of a line: a backslash becomes `\\`, control characters
 * `\xHH`; all else, UTF-8 included, stays as it is. A field that holds a backslash is therefore
 * one the host cannot compare with its own file names, and such a file always travels.
 */
function encodeField(value) {
    if (!NEEDS_ESCAPE.test(value))
        return value;
    return value.replace(ESCAPES, (char) => char === '\\' ? '\\\\' : `\\x${char.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
function decodeField(field) {
    if (!field.includes('\\'))
        return field;
    return field.replace(/\\(\\|x([0-9a-f]{2}))/g, (_, escape, hex) => hex === undefined ? escape : String.fromCharCode(Number.parseInt(hex, 16)));
}
/** Whether the host can find this entry by name: its encoded path is the path itself. */
function isPlainPath(path) {
    return !NEEDS_ESCAPE.test(path);
}
/** One line of the index: path, kind, mode, size, sha256, link target; tab-separated. */
function indexLine(entry) {
    const target = entry.linkTarget === undefined ? '-' : encodeField(entry.linkTarget);
    return `${encodeField(entry.path)}\t${KIND_LETTER[entry.kind]}\t${entry.mode.toString(8)}\t${entry.size}\t${entry.sha256 ?? '-'}\t${target}`;
}
const KIND_OF_LETTER = { f: 'file', d: 'directory', l: 'symlink' };
/** The entry an index line written by indexLine describes. */
function parseIndexLine(line) {
    const [field, letter, mode, size, sha256, target] = line.split('\t');
    const kind = KIND_OF_LETTER[letter ?? ''];
    if (field === undefined || kind === undefined || target === undefined) {
        throw new Error(`not an index line: ${JSON.stringify(line.slice(0, 200))}`);
    }
    return {
        path: decodeField(field),
        kind,
        mode: Number.parseInt(mode ?? '', 8),
        size: Number(size),
        sha256: sha256 === '-' ? undefined : sha256,
        linkTarget: kind === 'symlink' ? decodeField(target) : undefined,
    };
}
function hasLines(index) {
    return typeof index.lines === 'function';
}
/** The index lines of `index`, in its order. */
function indexLines(index) {
    if (hasLines(index))
        return index.lines();
    return (function* () {
        for (const entry of index)
            yield indexLine(entry);
    })();
}
/** The index entry of a checked bundle entry, reading a file's content to hash it. */
async function indexEntry(entry) {
    const mode = entryMode(entry.kind, entry.executable);
    if (entry.kind !== 'file') {
        return {
            path: entry.path,
            kind: entry.kind,
            mode,
            size: 0,
            ...(entry.kind === 'symlink' ? { linkTarget: entry.linkTarget ?? '' } : {}),
        };
    }
    const hash = (0,external_node_crypto_.createHash)('sha256');
    let size = 0;
    for await (const chunk of entry.content ?? []) {
        hash.update(chunk);
        size += chunk.length;
    }
    if (size !== entry.size) {
        throw new Error(`bundle entry '${entry.path}' held ${size} bytes, its header says ${entry.size}`);
    }
    return { path: entry.path, kind: 'file', mode, size, sha256: hash.digest('hex') };
}
/**
 * Entries in the order of their lines' bytes. Paths are unique and a line is the encoded path,
 * a tab, then the rest; encoded paths hold no byte below a space, so a path before another
 * (byte by byte, a prefix first) is a line before the other: only paths are compared, as
 * UTF-8, and encoded only when they need it. Entries already in that order are returned as
 * they are: a bundle build-action packed is (it sorts paths by their bytes), unless a path
 * needs escaping, and a copy sorted again would be one more array and an object for each
 * entry, megabytes for a large tree.
 */
function sortIndex(entries) {
    if (inIndexOrder(entries))
        return entries;
    return entries
        .map((entry) => ({ entry, key: encodeField(entry.path) }))
        .sort((a, b) => rules_compareUtf8(a.key, b.key))
        .map(({ entry }) => entry);
}
function inIndexOrder(entries) {
    let previous;
    for (const entry of entries) {
        const key = encodeField(entry.path);
        if (previous !== undefined && rules_compareUtf8(previous, key) >= 0)
            return false;
        previous = key;
    }
    return true;
}
/** Each line of a diff's new index, and whether it matched a file of the base. */
function* diffLines(diff) {
    let at = 0;
    for (const line of indexLines(diff.next))
        yield { line, linked: diff.linked[at++] === 1 };
}
/** The encoded path of an index line that lists a file, or undefined for another line. */
function filePath(line) {
    const tab = line.indexOf('\t');
    return tab > 0 && line.startsWith('f\t', tab + 1) ? line.slice(0, tab) : undefined;
}
function notAnIndex() {
    return new Error(`not a release index (expected '${INDEX_HEADER}' and whole lines)`);
}
/**
 * What a release built from a base release needs, from the lines of the base's index as they
 * come (an index is megabytes: it is never held whole), walked beside the new index's lines, as
 * both are in the same order: a file whose line (path, mode, size and sha256) is the line of the
 * new index with that path is hard-linked (if the host still has it as shipped); every other
 * file travels. Lines are compared as text, never parsed: a base line that is not well formed
 * matches no line the runner writes, so what it names travels, and so does what a base line out
 * of order names (an index not written by us). Directories and symlinks always travel: they are
 * a tar header each. A file whose path the host cannot name plainly (a backslash or a control
 * character in it) always travels. A path the base lists more than once is matched by the first
 * of its lines that fits. What is kept as it goes is a byte for each new entry and the paths of
 * base files not matched.
 */
class IndexDiffer {
    #next;
    #lines;
    /** The new index's line the base's lines have reached, its encoded path and its position. */
    #line;
    #key = '';
    #at = -1;
    /** For each entry of `next`, whether a base line matched it. */
    #matched;
    #unmatched = [];
    #baseLines = 0;
    constructor(next) {
        this.#next = next;
        this.#matched = new Uint8Array(next.length);
        this.#lines = indexLines(next)[Symbol.iterator]();
        this.#advance();
    }
    #advance() {
        const next = this.#lines.next();
        this.#line = next.done === true ? undefined : next.value;
        this.#key = this.#line?.slice(0, this.#line.indexOf('\t')) ?? '';
        this.#at++;
    }
    /** One line of the base index, without its newline; throws when the first is not the header. */
    line(line) {
        if (this.#baseLines++ === 0) {
            if (line !== INDEX_HEADER)
                throw notAnIndex();
            return;
        }
        const path = filePath(line);
        if (path === undefined)
            return;
        while (this.#line !== undefined && rules_compareUtf8(this.#key, path) < 0)
            this.#advance();
        const at = this.#at;
        if (this.#line === line && this.#matched[at] === 0 && isPlainPath(path)) {
            this.#matched[at] = 1;
        }
        else
            this.#unmatched.push(path);
    }
    /** What the lines given so far say; throws when there were none. */
    finish() {
        if (this.#baseLines === 0)
            throw notAnIndex();
        return { next: this.#next, linked: this.#matched, unmatched: this.#unmatched };
    }
}
/** IndexDiffer over an index file held whole, as text; throws when it is not an index file. */
function diffIndex(base, next) {
    if (!base.endsWith('\n'))
        throw notAnIndex();
    const differ = new IndexDiffer(next);
    for (let from = 0, at = base.indexOf('\n'); at !== -1; from = at + 1, at = base.indexOf('\n', from)) {
        differ.line(base.slice(from, at));
    }
    return differ.finish();
}

;// CONCATENATED MODULE: ./shared/bundle/entry-table.ts


/*
 * The entries of a verified bundle, as the runner keeps them while it deploys. A large tree has
 * a hundred thousand entries: kept as objects, each with its path and sha256 as strings, they
 * took some 0.3 KiB of V8's heap an entry, and V8 lets its heap grow to twice what is live
 * before it collects, so the runner's peak grew with the tree. Here each entry is its index line,
 * packed with the others into buffers of a MiB outside the heap, and its mtime and the offset
 * of its bytes, in arrays of numbers: about the bytes of its line. An entry is made again as it
 * is read, one at a time, and is garbage as soon as the reader moves on.
 */
/** Bytes of lines packed into each buffer: a line never spans two. */
const CHUNK_BYTES = 1024 * 1024;
/** Numbers in each of a column's arrays. */
const COLUMN_LENGTH = 16 * 1024;
const NEWLINE = 0x0a;
/** Numbers appended one by one, in arrays of a fixed size: none is ever copied to grow. */
class NumberColumn {
    #arrays = [];
    #length = 0;
    push(value) {
        const slot = this.#length % COLUMN_LENGTH;
        if (slot === 0)
            this.#arrays.push(new Float64Array(COLUMN_LENGTH));
        this.#arrays[this.#arrays.length - 1][slot] = value;
        this.#length++;
    }
    at(index) {
        return this.#arrays[Math.floor(index / COLUMN_LENGTH)][index % COLUMN_LENGTH];
    }
}
/**
 * Entries in the bundle's order, as compact as their index lines; the same entries in the order
 * of `.release/index` are its `index`.
 */
class EntryTable {
    #chunks = [];
    #chunk = Buffer.allocUnsafe(CHUNK_BYTES);
    #used = 0;
    #mtimes = new NumberColumn();
    #offsets = new NumberColumn();
    #length = 0;
    /** The last encoded path, while every path came after the one before it in index order. */
    #lastKey = '';
    #index;
    get length() {
        return this.#length;
    }
    add(entry) {
        const line = indexLine(entry);
        const bytes = Buffer.byteLength(line) + 1;
        if (this.#used + bytes > this.#chunk.length) {
            this.#chunks.push(this.#chunk.subarray(0, this.#used));
            this.#chunk = Buffer.allocUnsafe(Math.max(CHUNK_BYTES, bytes));
            this.#used = 0;
        }
        this.#used += this.#chunk.write(line, this.#used);
        this.#chunk[this.#used++] = NEWLINE;
        this.#mtimes.push(entry.mtime);
        this.#offsets.push(entry.offset);
        this.#length++;
        if (this.#lastKey !== undefined) {
            const key = line.slice(0, line.indexOf('\t'));
            const inOrder = this.#length === 1 || rules_compareUtf8(this.#lastKey, key) < 0;
            this.#lastKey = inOrder ? key : undefined;
        }
        this.#index = undefined;
    }
    /** Every entry's index line, in the bundle's order. */
    *lines() {
        for (const chunk of [...this.#chunks, this.#chunk.subarray(0, this.#used)]) {
            for (let from = 0, at = chunk.indexOf(NEWLINE); at !== -1;) {
                yield chunk.toString('utf8', from, at);
                from = at + 1;
                at = chunk.indexOf(NEWLINE, from);
            }
        }
    }
    *[Symbol.iterator]() {
        let at = 0;
        for (const line of this.lines()) {
            const { path, kind, mode, size, sha256, linkTarget } = parseIndexLine(line);
            const [mtime, offset] = [this.#mtimes.at(at), this.#offsets.at(at)];
            yield { path, kind, mode, size, sha256, linkTarget, mtime, offset };
            at++;
        }
    }
    /**
     * The entries in index order. A bundle build-action packed is in that order already (it sorts
     * paths by their bytes) unless a path needs escaping (its order is the raw bytes', the index's
     * the escaped ones'): then the entries are sorted, and held, as objects.
     */
    get index() {
        if (this.#index === undefined) {
            this.#index =
                this.#lastKey === undefined
                    ? sortIndex([...this].map(({ mtime: _, offset: __, ...entry }) => entry))
                    : this.#inOrder();
        }
        return this.#index;
    }
    #inOrder() {
        const lines = () => this.lines();
        return {
            length: this.#length,
            lines,
            *[Symbol.iterator]() {
                for (const line of lines())
                    yield parseIndexLine(line);
            },
        };
    }
}

;// CONCATENATED MODULE: ./shared/bundle/content.ts





/**
 * What a release writes itself (its `.env`, its `.release/` metadata): the bundle's own entries
 * at these paths are left out of the release, as they would be overwritten or followed.
 */
function isReleaseOwnPath(path) {
    return path === '.env' || path === '.release' || path.startsWith('.release/');
}
/**
 * Bytes gathered before each write to the content file, copied into one buffer kept for the
 * whole pass: the bundle's pieces are let go at once and die young, where holding them until a
 * write (and concatenating them for it) kept every byte of the bundle alive long enough to reach
 * V8's old generation, which frees buffers only every 64 MiB of them.
 */
const WRITE_BYTES = 1024 * 1024;
/** Checks a bundle and keeps what the hosts get, in the one pass that reads it. */
class ContentRecorder {
    #file;
    #handle;
    #entries = new EntryTable();
    #blocks = new BlockHasher();
    #offset = 0;
    #buffer = Buffer.allocUnsafe(WRITE_BYTES);
    #buffered = 0;
    /** Where the caller keeps the bundle's own bytes, and their digests as they were read. */
    #bundle;
    #forwardable;
    /** The bundle holds entries the release writes itself: its tar is not the release's. */
    #ownPaths = false;
    constructor(file, handle, bundle) {
        this.#file = file;
        this.#handle = handle;
        this.#bundle = bundle === undefined ? undefined : { file: bundle, blocks: new BlockHasher() };
    }
    /**
     * Records into `file`, which must not exist yet. `bundle`: where the caller writes the same
     * bytes `record` reads, so that its frames can be sent as they are.
     */
    static async create(file, bundle) {
        return new ContentRecorder(file, await (0,external_node_fs_promises_.open)(file, 'wx', 0o600), bundle);
    }
    /** Checks the bundle in `bytes` entry by entry (checkedEntries) and records every entry. */
    async record(bytes, options = {}) {
        const bundle = this.#bundle;
        async function* hashed() {
            for await (const chunk of bytes) {
                bundle?.blocks.update(chunk);
                yield chunk;
            }
        }
        const onForwardable = (tar) => (this.#forwardable = tar);
        const checking = { ...options, ...(bundle ? { onForwardable } : {}) };
        for await (const entry of checkedEntries(hashed(), checking))
            await this.#add(entry);
    }
    /** Indexes an entry and keeps a file's bytes; reads its content, so call it before the next. */
    async #add(entry) {
        if (isReleaseOwnPath(entry.path)) {
            this.#ownPaths = true;
            return;
        }
        const offset = this.#offset;
        const content = entry.kind === 'file' ? this.#kept(entry.content) : undefined;
        const indexed = await indexEntry({ ...entry, content });
        this.#entries.add({
            ...indexed,
            mtime: entry.mtime,
            offset: entry.kind === 'file' ? offset : 0,
        });
    }
    async *#kept(content) {
        for await (const chunk of content) {
            this.#offset += chunk.length;
            for (let at = 0; at < chunk.length;) {
                const copied = chunk.copy(this.#buffer, this.#buffered, at);
                this.#buffered += copied;
                at += copied;
                if (this.#buffered === WRITE_BYTES)
                    await this.#flush();
            }
            yield chunk;
        }
    }
    async #flush() {
        const bytes = this.#buffer.subarray(0, this.#buffered);
        this.#blocks.update(bytes);
        this.#buffered = 0;
        let written = 0;
        while (written < bytes.length) {
            written += (await this.#handle.write(bytes, written)).bytesWritten;
        }
    }
    /** Writes what is left and closes the file. */
    async finish() {
        try {
            await this.#flush();
        }
        finally {
            await this.#handle.close();
        }
        const bundle = this.#bundle;
        const forwardable = this.#ownPaths ? undefined : this.#forwardable;
        return {
            file: this.#file,
            blocks: this.#blocks.finish(),
            entries: this.#entries,
            index: this.#entries.index,
            ...(bundle && forwardable
                ? { bundle: { ...forwardable, file: bundle.file, blocks: bundle.blocks.finish() } }
                : {}),
        };
    }
    /** Closes the file after a failed pass; the caller removes it. */
    async abort() {
        await this.#handle.close().catch(() => undefined);
    }
}

;// CONCATENATED MODULE: ./shared/bundle/compress-stream.ts


/**
 * Compresses a stream for the wire as packing compresses a bundle: cut into frames compressed
 * on their own in libuv's pool, several at once, emitted in order. zstd and gzip read the
 * concatenated frames (members) as one stream. Memory holds a few frames, whatever the length
 * of the stream; a slow reader slows the source down, nothing piles up.
 */
async function* compressStream(source, compression) {
    const ready = [];
    const frames = new frames_FrameWriter(compression, (compressed) => {
        ready.push(compressed);
        return Promise.resolve();
    }, WIRE_OUTPUT_CHUNK);
    let finished = false;
    let empty = true;
    try {
        for await (const item of source) {
            const chunk = item;
            empty &&= chunk.length === 0;
            await frames.put(chunk);
            while (ready.length > 0)
                yield ready.shift();
        }
        await frames.finish();
        finished = true;
        while (ready.length > 0)
            yield ready.shift();
        // No frame at all is not a stream `zstd -d` or `gzip -d` accepts; an empty frame is.
        if (empty)
            yield await compressFrame(Buffer.alloc(0), compression);
    }
    finally {
        // Compressions still running write into frames the pool hands out again: let them end.
        if (!finished)
            await frames.abort();
    }
}

;// CONCATENATED MODULE: ./shared/bundle/forward.ts




/**
 * A full transfer of a bundle whose tar is what the runner would write (ForwardableTar), to a
 * host that reads zstd: the bundle's own frames, as they are, up to the one that holds the end
 * of its entries; that frame's entries and then `tail` (the release's own entries, and the end
 * of the archive) compressed anew. The host's stream costs the runner no compression but that
 * of a frame or two. The bundle file is read once, each block checked against what was verified.
 * `onTar` is told of the bytes of tar as they go.
 */
async function* forwardedStream(bundle, tail, onTar) {
    const reader = await CheckedReader.open(bundle.file, bundle.blocks);
    try {
        let compressedAt = 0;
        let tarAt = 0;
        let index = 0;
        for (; index < bundle.frames.length; index++) {
            const frame = bundle.frames[index];
            if (tarAt + frame.decompressed > bundle.end)
                break;
            yield* copies(reader.read(compressedAt, frame.compressed));
            compressedAt += frame.compressed;
            tarAt += frame.decompressed;
            onTar(frame.decompressed);
        }
        const last = bundle.frames[index];
        const before = bundle.end - tarAt;
        const head = last === undefined || before === 0
            ? []
            : headOf(copies(reader.read(compressedAt, last.compressed)), before);
        async function* rest() {
            for (const part of [head, tail]) {
                for await (const chunk of part) {
                    onTar(chunk.length);
                    yield chunk;
                }
            }
        }
        yield* compressStream(rest(), 'zstd');
    }
    catch (error) {
        throw error instanceof BlockChanged ? changed() : error;
    }
    finally {
        await reader.close();
    }
}
/** The reader's pieces, each copied: they are only good until its next read. */
async function* copies(pieces) {
    for await (const piece of pieces)
        yield Buffer.from(piece);
}
/** The first `count` bytes a frame decompresses to; the rest is decompressed and dropped. */
async function* headOf(frame, count) {
    let left = count;
    for await (const chunk of decompressZstd(frame, DECOMPRESS_CHUNK)) {
        if (left === 0)
            continue;
        const taken = chunk.length > left ? chunk.subarray(0, left) : chunk;
        left -= taken.length;
        yield taken;
    }
    if (left > 0)
        throw changed();
}
function changed() {
    return keptFileChanged('the bundle file kept on the runner changed since it was verified');
}

;// CONCATENATED MODULE: ./shared/bundle/release-tar.ts


/**
 * The files a host hard-links from the base release instead of receiving, kept as the shorter
 * list: the files linked, or the files that travel (for one file changed in a tree of a hundred
 * thousand, one path, not the other 99,999). Iterating it reads the whole index.
 */
class CarriedFiles {
    next;
    how;
    listed;
    size;
    /** No file linked: a full transfer. */
    static none = new CarriedFiles([], 'these', new Set(), 0);
    constructor(next, 
    /** Whether `listed` are the files linked or the files of `next` that travel. */
    how, listed, 
    /** Files linked. */
    size) {
        this.next = next;
        this.how = how;
        this.listed = listed;
        this.size = size;
    }
    /**
     * Whether the file of the new index at `path` is linked; ask only of its files. A file whose
     * path is not plain (the host cannot name it) never is: the files that travel, listed, are
     * every one of them.
     */
    has(path) {
        return this.listed.has(path) === (this.how === 'these');
    }
    *[Symbol.iterator]() {
        if (this.size === 0)
            return;
        for (const entry of this.next) {
            if (entry.kind === 'file' && this.has(entry.path))
                yield entry.path;
        }
    }
}
/** `path` under the directory `into`; '' is the directory the host unpacks in. */
function under(into, path) {
    return into === '' ? path : `${into}/${path}`;
}
function release_tar_changed(entry) {
    return keptFileChanged(`the files kept on the runner changed since they were verified (found reading ${entry.path})`);
}
/** Bytes of tar gathered before they are handed on: headers and file bytes written in place. */
const BATCH_BYTES = 1024 * 1024;
/** Room kept for one header, pax records and all: paths are at most a few KiB. */
const HEADER_ROOM = 64 * 1024;
/**
 * The bundle's entries as a host unpacks them to make a release: each written anew under `into`
 * from what the verified pass recorded (quirks of the original archive never reach the host's
 * tar), except the files in `carry`, which become hard links to `<base>/<path>`. Without `carry`
 * it is the whole bundle: a full transfer. File bytes are read again only for the files that
 * travel, checked on the way; the stream fails if they changed. It comes in pieces of about a
 * MiB, and has no end-of-archive blocks: the index update and the release's own files follow.
 * Every piece is one buffer written again once the next piece is asked for (a release's tar is
 * as long as the bundle, and a new buffer for each MiB of it was garbage V8 frees only every
 * 64 MiB): whoever keeps a piece past that copies it or writes it first (onTheWire).
 */
async function* releaseTar(content, options) {
    const carry = options.carry ?? CarriedFiles.none;
    if (carry.size > 0 && options.base === undefined) {
        throw new Error('files to hard-link need the base release they are linked from');
    }
    const reader = await CheckedReader.open(content.file, content.blocks);
    const out = Buffer.allocUnsafe(BATCH_BYTES);
    let at = 0;
    function* handOn(room) {
        if (BATCH_BYTES - at >= room)
            return;
        yield out.subarray(0, at);
        at = 0;
    }
    try {
        for (const entry of content.entries) {
            if (BATCH_BYTES - at < HEADER_ROOM)
                yield* handOn(HEADER_ROOM);
            const path = under(options.into, entry.path);
            const executable = entry.kind === 'file' && entry.mode === 0o755;
            if (entry.kind === 'file' && carry.has(entry.path)) {
                const target = `${options.base ?? ''}/${entry.path}`;
                at += writeHardLink({ path, target, executable }, entry.mtime, out, at);
                continue;
            }
            const { kind, size, linkTarget } = entry;
            at += writeHeader({ path, kind, size, executable, linkTarget }, entry.mtime, out, at);
            if (kind !== 'file')
                continue;
            try {
                for await (const piece of reader.read(entry.offset, size)) {
                    for (let from = 0; from < piece.length;) {
                        const count = Math.min(piece.length - from, BATCH_BYTES - at);
                        piece.copy(out, at, from, from + count);
                        at += count;
                        from += count;
                        yield* handOn(1);
                    }
                }
            }
            catch (error) {
                throw error instanceof BlockChanged ? release_tar_changed(entry) : error;
            }
            const padding = tar_paddingAfter(size);
            yield* handOn(padding);
            out.fill(0, at, at + padding);
            at += padding;
        }
        if (at > 0)
            yield out.subarray(0, at);
    }
    finally {
        await reader.close();
    }
}
/**
 * The release's own files under `into` (its `.release/` directory came before, in the shared
 * stream), then the end of the archive.
 */
function* releaseFilesTar(into, files) {
    const mtime = Math.floor(Date.now() / 1000);
    for (const file of files) {
        const size = file.content.length;
        const entry = { path: under(into, file.path), size, executable: false, mode: file.mode };
        yield tar_encodeHeader({ ...entry, kind: 'file' }, mtime);
        yield file.content;
        const padding = tar_paddingAfter(size);
        if (padding > 0)
            yield tar_END_OF_ARCHIVE.subarray(0, padding);
    }
    yield tar_END_OF_ARCHIVE;
}

;// CONCATENATED MODULE: ./shared/bundle/spool.ts

/** Bytes a reader takes from the file at once: large writes, few system calls. */
const READ_BYTES = 1024 * 1024;
/**
 * A stream made once and read by many: the source is written to a file as it comes, and each
 * reader follows the file from its start, waiting at its end for more. Hosts that get the same
 * release stream share one making of it (one parse, one compression), however many there are
 * and whenever each starts; memory holds a chunk per reader, whatever the length of the stream.
 * A source that fails fails every reader once it has read what came before.
 */
class Spool {
    #file;
    #opened;
    #written = 0;
    #done = false;
    #failure;
    #wake = [];
    constructor(file, source) {
        this.#file = file;
        let opened;
        this.#opened = new Promise((resolve) => (opened = resolve));
        void this.#fill(source, opened);
    }
    /** Bytes written so far, and whether the source has ended. */
    get written() {
        return this.#written;
    }
    get done() {
        return this.#done;
    }
    async #fill(source, opened) {
        let handle;
        try {
            handle = await (0,external_node_fs_promises_.open)(this.#file, 'w');
            opened();
            for await (const chunk of source) {
                let offset = 0;
                while (offset < chunk.length) {
                    const { bytesWritten } = await handle.write(chunk, offset);
                    offset += bytesWritten;
                }
                this.#written += chunk.length;
                this.#notify();
            }
            this.#done = true;
        }
        catch (error) {
            this.#failure = { error };
        }
        finally {
            opened();
            await handle?.close().catch(() => undefined);
            this.#notify();
        }
    }
    #notify() {
        for (const wake of this.#wake.splice(0))
            wake();
    }
    #changed() {
        return new Promise((resolve) => this.#wake.push(resolve));
    }
    /** The stream from its start. */
    async *read() {
        await this.#opened;
        if (this.#failure && this.#written === 0)
            throw this.#failure.error;
        const handle = await (0,external_node_fs_promises_.open)(this.#file, 'r');
        try {
            let position = 0;
            for (;;) {
                if (position < this.#written) {
                    const length = Math.min(READ_BYTES, this.#written - position);
                    const buffer = Buffer.allocUnsafe(length);
                    const { bytesRead } = await handle.read(buffer, 0, length, position);
                    if (bytesRead === 0)
                        throw new Error(`${this.#file} was cut short while it was read`);
                    position += bytesRead;
                    yield bytesRead === length ? buffer : buffer.subarray(0, bytesRead);
                    continue;
                }
                if (this.#failure)
                    throw this.#failure.error;
                if (this.#done)
                    return;
                await this.#changed();
            }
        }
        finally {
            await handle.close();
        }
    }
}

;// CONCATENATED MODULE: ./shared/bundle/payload.ts








/**
 * A tar comes in pieces of 512 bytes (headers) and of a few KiB (small files); written one by
 * one, each would be an SSH packet and a system call of its own, which slows ssh2 from over a
 * hundred MB/s to a few (bench/ssh.ts). Pieces are gathered into writes of this size.
 */
const payload_WRITE_BYTES = 256 * 1024;
/**
 * Pieces gathered into writes of WRITE_BYTES. A piece as large is handed on as it is, to be
 * written before the next is asked for; a smaller one is copied, as it is kept while the next is
 * asked for, and a source may write its buffer again then (releaseTar does).
 */
async function* batched(source) {
    let pending = [];
    let size = 0;
    for await (const item of source) {
        const chunk = item;
        if (size === 0 && chunk.length >= payload_WRITE_BYTES) {
            yield chunk;
            continue;
        }
        pending.push(Buffer.from(chunk));
        size += chunk.length;
        if (size < payload_WRITE_BYTES)
            continue;
        yield Buffer.concat(pending, size);
        pending = [];
        size = 0;
    }
    if (size > 0)
        yield Buffer.concat(pending, size);
}
/**
 * A tar as it goes on the wire: compressed in frames, or a plain tar in large writes. A piece of
 * `tar` may be overwritten once the next is asked for: compressed, each is copied into a frame
 * at once; plain, a piece of a whole write is handed on as it is, so whoever reads a plain tar
 * writes each piece before asking for the next (the Spool does).
 */
function onTheWire(tar, wire) {
    return wire ? compressStream(tar, wire) : batched(tar);
}
/** Text in pieces of about this size: an index of a large release is megabytes. */
const PIECE_BYTES = 64 * 1024;
function* pieces(lines) {
    let pending = [];
    let size = 0;
    for (const line of lines) {
        pending.push(line, '\n');
        size += line.length + 1;
        if (size < PIECE_BYTES)
            continue;
        yield Buffer.from(pending.join(''));
        pending = [];
        size = 0;
    }
    if (size > 0)
        yield Buffer.from(pending.join(''));
}
/** The lines of an index update: the base lines listed, the nonce, the lines sent. */
function* updateLines(update, nonce) {
    yield* update.listed;
    yield nonce;
    yield* indexLines(update.entries);
}
/** The release's `.release/` and its index update, written in pieces as it is read. */
function* updateTar(into, update, nonce) {
    const mtime = Math.floor(Date.now() / 1000);
    const directory = under(into, '.release');
    yield tar_encodeHeader({ path: directory, kind: 'directory', size: 0, executable: false }, mtime);
    let size = 0;
    for (const line of updateLines(update, nonce))
        size += Buffer.byteLength(line) + 1;
    const path = `${directory}/index.update`;
    yield tar_encodeHeader({ path, kind: 'file', size, executable: false }, mtime);
    yield* pieces(updateLines(update, nonce));
    const padding = tar_paddingAfter(size);
    if (padding > 0)
        yield tar_END_OF_ARCHIVE.subarray(0, padding);
}
/**
 * What travels to the hosts for one verified release: its content (file bytes and entries,
 * recorded in the pass that verified the bundle) and the streams made from it. A stream is made
 * once per distinct plan (the same base, the same files linked, the same index update, the same
 * wire compression) and spooled in `directory`; every host with that plan reads the one copy,
 * so eight hosts on the same release cost one pass and one compression, not eight. A full
 * transfer in zstd, with names relative to the release directory, is the bundle's own frames
 * when it can be (forwardedStream): no compression at all.
 */
class ReleasePayload {
    content;
    directory;
    #made = new Map();
    #indexDigest;
    constructor(content, directory) {
        this.content = content;
        this.directory = directory;
    }
    get index() {
        return this.content.index;
    }
    /** `.release/index` as the runner makes it, in pieces: the index is sorted already. */
    indexFile() {
        const index = this.content.index;
        function* lines() {
            yield INDEX_HEADER;
            yield* indexLines(index);
        }
        return pieces(lines());
    }
    /** The sha256 of `.release/index`: what a host's must hash to. */
    get indexDigest() {
        if (this.#indexDigest === undefined) {
            const hash = (0,external_node_crypto_.createHash)('sha256');
            for (const piece of this.indexFile())
                hash.update(piece);
            this.#indexDigest = hash.digest('hex');
        }
        return this.#indexDigest;
    }
    read(plan) {
        const made = this.#make(plan);
        let wireRead = 0;
        async function* chunks() {
            for await (const chunk of made.spool.read()) {
                wireRead += chunk.length;
                yield chunk;
            }
        }
        return {
            chunks: chunks(),
            nonce: made.nonce,
            forwarded: made.forwarded,
            tarSent: () => made.spool.done && wireRead === made.spool.written
                ? made.tar.bytes
                : Math.round((wireRead * made.tar.bytes) / Math.max(1, made.spool.written)),
        };
    }
    #make(plan) {
        const key = planKey(plan);
        const known = this.#made.get(key);
        if (known)
            return known;
        const tar = { bytes: 0 };
        const nonce = (0,external_node_crypto_.randomBytes)(16).toString('hex');
        const content = this.content;
        const update = updateTar(plan.into, plan.update, nonce);
        async function* counted() {
            for (const part of [releaseTar(content, plan), update]) {
                for await (const chunk of part) {
                    tar.bytes += chunk.length;
                    yield chunk;
                }
            }
        }
        const bundle = content.bundle;
        // The bundle's names are relative to the release: only a stream unpacked in it can be it.
        const forward = bundle !== undefined && plan.wire === 'zstd' && plan.into === '' && plan.base === undefined;
        const wire = forward
            ? forwardedStream(bundle, update, (bytes) => (tar.bytes += bytes))
            : onTheWire(counted(), plan.wire);
        const file = external_node_path_default().join(this.directory, `stream-${this.#made.size + 1}`);
        const made = { spool: new Spool(file, wire), forwarded: forward, nonce, tar };
        this.#made.set(key, made);
        return made;
    }
}
/** What makes two plans' streams the same, hashed as it is read: the lists can be long. */
function planKey(plan) {
    const hash = (0,external_node_crypto_.createHash)('sha256');
    const field = (value) => hash.update(value).update('\0');
    [plan.into, plan.base ?? '', plan.wire ?? 'tar', plan.update.how].forEach(field);
    const carry = plan.carry;
    if (carry !== undefined && carry.size > 0) {
        field(carry.how);
        carry.listed.forEach(field);
    }
    field('listed');
    plan.update.listed.forEach(field);
    // The lines sent are the index's entries less the files carried, which the carry names: their
    // count is enough, where their paths were a pass over the whole index for each plan.
    field(`sent ${plan.update.entries.length}`);
    return hash.digest('hex');
}

;// CONCATENATED MODULE: ./shared/builds.ts





/**
 * Where a build lives: two artifacts named by app and full SHA (the bundle, uploaded as is,
 * and its build facts beside it), and one cache entry holding both.
 */
function bundleFileName(app, sha, compression) {
    return `${app}-${sha}.tar.${compression === 'zstd' ? 'zst' : 'gz'}`;
}
function factsFileName(app, sha) {
    return `${app}-${sha}.build.json`;
}
function buildId(app, sha) {
    return `${app}@${sha}`;
}
function cacheKey(app, sha) {
    return `build-release-run-${app}-${sha}`;
}
/** GitHub takes release assets under 2 GiB: a bigger bundle cannot be released at all. */
const MAX_ASSET_BYTES = (/* unused pure expression or super */ null && (2 * 1024 ** 3));
/**
 * Where build-action keeps a bundle and its facts, and where the cache entry restores them:
 * @actions/cache keys an entry by the literal paths saved, so a restore must name the same ones.
 */
function buildDirectory(home, app, sha) {
    return path.join(home, '.cache', 'build-release-run', `${app}-${sha}`);
}
/** The paths one cache entry holds: the bundle and its facts. */
function cachePaths(directory, app, sha, compression) {
    return [
        path.join(directory, bundleFileName(app, sha, compression)),
        path.join(directory, factsFileName(app, sha)),
    ];
}
/** Refuses a bundle GitHub could not take, before anything is downloaded, tagged or drafted. */
function checkAssetSize(size, what) {
    if (size < MAX_ASSET_BYTES)
        return;
    throw new ConfigurationError({
        subject: what,
        problem: `the bundle is ${size} bytes; GitHub release assets must be under 2 GiB (${MAX_ASSET_BYTES} bytes)`,
        hint: "leave out what the app does not need at run time (build-action's path), or use zstd",
    });
}
async function onlyFile(directory) {
    const names = await readdir(directory);
    if (names.length !== 1)
        throw new Error(`expected one downloaded file in ${directory}, found ${names.length}`);
    return path.join(directory, names[0]);
}
async function readFacts(file, options, where) {
    const facts = parseBuildFacts(JSON.parse(await readFile(file, 'utf8')), `the build facts of ${options.sha} from ${where}`);
    if (facts.app !== options.app || facts.sha !== options.sha) {
        throw new ConfigurationError({
            subject: `the build facts from ${where}`,
            expected: `${options.app} at ${options.sha}`,
            got: `${facts.app} at ${facts.sha}`,
        });
    }
    checkAssetSize(facts.size, `the build of ${options.sha} from ${where}`);
    return facts;
}
function record(facts) {
    const { sha, digest, size, compression, artifact } = facts;
    return { sha, digest, size, compression, artifact };
}
async function verified(found, log) {
    const digest = await bundleDigest(found.bundlePath);
    if (digest !== found.build.digest) {
        throw new ConfigurationError({
            subject: `the build of ${found.build.sha} from ${found.source}`,
            problem: 'does not match its recorded digest',
            expected: found.build.digest,
            got: digest,
            hint: 'rebuild it',
        });
    }
    log.info(`Found the build of ${found.build.sha} in ${found.source}: ${digest}`);
    return found;
}
/** Facts, then the bundle they name, from one run's artifacts (another run's through REST). */
async function fromArtifacts(options, run) {
    const { runId, source } = run;
    const find = runId === undefined
        ? {}
        : {
            findBy: {
                token: options.token,
                workflowRunId: runId,
                repositoryOwner: options.repository.owner,
                repositoryName: options.repository.repo,
            },
        };
    const factsDir = await mkdtemp(path.join(options.directory, 'facts-'));
    await options.artifacts.downloadArtifact(run.facts.id, { path: factsDir, ...find });
    const facts = await readFacts(await onlyFile(factsDir), options, source);
    const bundle = run.all.find((artifact) => artifact.name === facts.artifact.name);
    if (!bundle)
        return undefined;
    const bundleDir = await mkdtemp(path.join(options.directory, 'bundle-'));
    await options.artifacts.downloadArtifact(bundle.id, { path: bundleDir, ...find });
    return verified({ build: record(facts), bundlePath: await onlyFile(bundleDir), source }, options.log);
}
/**
 * Builds of earlier runs and earlier attempts of this run (the results service shows an attempt
 * only its own artifacts), through the REST API: only runs of this repository at exactly this
 * commit. A fork's pull request runs here too and may upload an artifact under any name.
 */
async function fromEarlierRuns(options) {
    const listed = await options.github.paginate(options.github.rest.actions.listArtifactsForRepo, {
        ...options.repository,
        name: factsFileName(options.app, options.sha),
        per_page: 100,
    });
    const earlier = listed
        .filter((artifact) => !artifact.expired && artifact.workflow_run?.id !== undefined)
        .sort((a, b) => (b.created_at ?? '').localeCompare(a.created_at ?? ''));
    for (const factsArtifact of earlier) {
        const run = factsArtifact.workflow_run;
        const runId = run?.id;
        if (options.repositoryId === undefined ||
            run?.head_repository_id !== options.repositoryId ||
            run.head_sha !== options.sha) {
            options.log.info(`Passed over ${factsArtifact.name} of run ${runId}: that run is not of this repository at ${options.sha}`);
            continue;
        }
        const runArtifacts = await options.github.paginate(options.github.rest.actions.listWorkflowRunArtifacts, { ...options.repository, run_id: runId, per_page: 100 });
        const found = await fromArtifacts(options, {
            facts: factsArtifact,
            all: runArtifacts.filter((artifact) => !artifact.expired),
            source: `run ${runId}`,
            runId,
        });
        if (found)
            return found;
    }
    return undefined;
}
async function fromCache(options) {
    const dir = await options.restoreFromCache?.();
    if (dir === undefined)
        return undefined;
    const facts = await readFacts(path.join(dir, factsFileName(options.app, options.sha)), options, 'the cache');
    const bundlePath = path.join(dir, bundleFileName(options.app, options.sha, facts.compression));
    return verified({ build: record(facts), bundlePath, source: 'cache' }, options.log);
}
/**
 * Finds the build of a commit: in this run's artifacts, in earlier runs' and attempts' (this
 * repository's, at this commit), in the cache, then as the bundle of an earlier release of the
 * commit. Its size and digest are checked before anything is released.
 */
async function findBuild(options) {
    const factsName = factsFileName(options.app, options.sha);
    const inRun = (await options.artifacts.listArtifacts({ latest: true })).artifacts;
    const factsHere = inRun.find((artifact) => artifact.name === factsName);
    const found = (factsHere &&
        (await fromArtifacts(options, { facts: factsHere, all: inRun, source: 'this run' }))) ||
        (await fromEarlierRuns(options)) ||
        (await fromCache(options)) ||
        (await options.fromRelease?.());
    if (found)
        return found;
    const cache = options.restoreFromCache ? 'the cache' : 'the cache (not available to this job)';
    const releases = options.fromRelease ? ', earlier releases of the environment' : '';
    throw new ConfigurationError({
        input: 'sha',
        problem: `no build of ${options.app} at ${options.sha} in this run's artifacts, earlier runs' artifacts of this repository, ${cache}${releases}`,
        hint: 'run build-action for this commit first',
    });
}

;// CONCATENATED MODULE: ./shared/dotenv.ts


/*
 * One .env file is read by three parsers: systemd's EnvironmentFile= (src/basic/env-file.c),
 * the npm `dotenv` package and Node's `--env-file`. Their common ground:
 *
 * - 'single quotes' keep everything literally in all three, newlines included, but cannot hold
 *   a single quote (dotenv and Node have no escape inside them).
 * - "double quotes" keep the text literally in all three only without `"` and without a backslash
 *   that someone reads as an escape: systemd reads `\"`, `\\`, `\$`, `` \` `` and a backslash
 *   before a newline as escapes, dotenv turns `\n` and `\r` into a newline and a carriage return,
 *   Node `\n`; every other backslash is kept by all three.
 * - unquoted text is literal in all three only on one line, without `\` (an escape to systemd)
 *   or `#` (a comment to dotenv and Node), without leading or trailing white space (trimmed),
 *   and not starting with a quote (which would open a quoted value).
 *
 * So a value without `'` goes in single quotes, one with `'` in double quotes, one with both `'`
 * and `"` unquoted; anything else is refused rather than written in a form that some reader
 * takes differently. systemd also drops any assignment whose value holds a control character
 * other than tab and newline, and dotenv turns a carriage return into a newline, so those are
 * refused too.
 */
// eslint-disable-next-line no-control-regex -- exactly the characters systemd refuses in a value
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f]/;
const QUOTE_START = /^['"`]/;
/** A backslash that one of the readers takes as an escape inside double quotes. */
const ESCAPE_IN_DOUBLE_QUOTES = /\\([\\"`$\nnr]|$)/;
function encode(value) {
    if (!value.isWellFormed())
        return { problem: 'is not valid Unicode (a lone surrogate)' };
    const control = CONTROL.exec(value)?.[0];
    if (control !== undefined) {
        const code = control.codePointAt(0).toString(16).toUpperCase().padStart(4, '0');
        return {
            problem: `contains the control character U+${code}, which systemd's EnvironmentFile= drops`,
        };
    }
    if (!value.includes("'"))
        return { text: `'${value}'` };
    const escape = ESCAPE_IN_DOUBLE_QUOTES.test(value);
    if (!value.includes('"') && !escape)
        return { text: `"${value}"` };
    const blocker = !value.includes('"')
        ? ' and a backslash that systemd or dotenv reads as an escape (before n, r, $, `, \\ or at the end)'
        : value.includes('\\')
            ? ', " and a backslash'
            : value.includes('\n')
                ? ', " and a newline'
                : value.includes('#')
                    ? ', " and a #'
                    : QUOTE_START.test(value)
                        ? ', " and starts with a quote'
                        : /^\s|\s$/.test(value)
                            ? ', " and leading or trailing white space'
                            : undefined;
    if (blocker === undefined)
        return { text: value };
    return {
        problem: `holds '${blocker}: no .env quoting reads that the same in systemd's EnvironmentFile= and dotenv`,
    };
}
/** Why `value` cannot be written to a .env file, or undefined when it can. */
function envValueProblem(value) {
    return encode(value).problem;
}
/**
 * Renders config as a .env file that systemd's EnvironmentFile=, dotenv and `node --env-file`
 * all read back to exactly these values. Keys are sorted, so the same config gives the same file.
 * A value no common quoting can carry is refused with its key, never with its value.
 */
function renderEnvFile(values) {
    const lines = [];
    for (const key of Object.keys(values).sort()) {
        if (!shared_names/* ENV_NAME */.G1.test(key)) {
            throw new errors/* ConfigurationError */.j1({
                subject: `config key ${(0,errors/* quoted */.TL)(key)}`,
                problem: 'is not an environment variable name',
            });
        }
        const { text, problem } = encode(values[key]);
        if (text === undefined) {
            throw new errors/* ConfigurationError */.j1({
                subject: `config key ${key}`,
                problem: `the value ${problem}`,
            });
        }
        lines.push(`${key}=${text}\n`);
    }
    return lines.join('');
}

// EXTERNAL MODULE: ./node_modules/age-encryption/dist/index.js + 48 modules
var dist = __webpack_require__(3389);
;// CONCATENATED MODULE: ./shared/secrets.ts





/** An age X25519 recipient: `age1` and 58 bech32 characters, as `age-keygen -y` prints it. */
const X25519_RECIPIENT = /^age1[02-9ac-hj-np-z]{58}$/;
const X25519_IDENTITY = /^AGE-SECRET-KEY-1[02-9AC-HJ-NP-Z]{58}$/;
/** Any age identity, in either case (bech32 may be written all lower-case): a secret. */
const ANY_IDENTITY = /^AGE-SECRET-KEY-/i;
const RECIPIENT = 'an age X25519 recipient (age1… as age-keygen -y prints it)';
/**
 * Checks the `recipients` lines: age X25519 public keys only, since every host must be able to
 * decrypt with a plain `age -d -i key.txt`. A line is quoted in an error only when it has the
 * form of a public key: what a user pastes here by mistake may be a secret.
 */
function parseRecipients(lines) {
    const recipients = [];
    for (const [index, raw] of lines.entries()) {
        const line = raw.trim();
        const problem = recipientProblem(line);
        if (problem !== undefined) {
            throw new ConfigurationError({
                input: 'recipients',
                subject: `line ${index + 1}`,
                ...problem,
            });
        }
        if (!recipients.includes(line))
            recipients.push(line);
    }
    return recipients;
}
function recipientProblem(line) {
    const hint = 'make one with age-keygen';
    if (ANY_IDENTITY.test(line)) {
        return {
            problem: 'is an age identity, a secret key: it was not printed',
            expected: RECIPIENT,
            hint: 'give its recipient instead: age-keygen -y KEY_FILE prints it',
        };
    }
    if (line.startsWith('age1pq1') || line.startsWith('age1tag')) {
        return { problem: 'only X25519 recipients are supported', got: quoted(line), hint };
    }
    const sshType = /^(ssh-|ecdsa-|sk-)\S*/.exec(line)?.[0];
    if (sshType !== undefined) {
        return { problem: 'SSH keys are not age recipients here', got: quoted(sshType), hint };
    }
    if (X25519_RECIPIENT.test(line)) {
        try {
            new Encrypter().addRecipient(line);
            return undefined;
        }
        catch {
            // A checksum that does not match: reported below with the line, which is public.
        }
    }
    return { expected: RECIPIENT, got: line.startsWith('age1') ? quoted(line) : undefined };
}
/**
 * The `AGE-SECRET-KEY-1…` lines of an identity, as age-keygen writes the file (comment lines
 * allowed). Errors give only line numbers: an identity line is a secret.
 */
function parseIdentities(text) {
    const identities = [];
    for (const [index, raw] of text.split(/\r?\n/).entries()) {
        const line = raw.trim();
        if (line === '' || line.startsWith('#'))
            continue;
        if (!X25519_IDENTITY.test(line)) {
            throw new errors/* ConfigurationError */.j1({
                input: 'identity',
                subject: `line ${index + 1}`,
                expected: 'an age X25519 identity (AGE-SECRET-KEY-1… from age-keygen)',
            });
        }
        identities.push(line);
    }
    if (identities.length === 0) {
        throw new errors/* ConfigurationError */.j1({
            input: 'identity',
            expected: 'an age identity (AGE-SECRET-KEY-1…)',
        });
    }
    return identities;
}
/** The `age1…` recipient of each identity line: what `age-keygen -y` prints. */
function recipientsOf(identities) {
    return Promise.all(identities.map((identity) => identityToRecipient(identity)));
}
/**
 * Masks a secret value in everything the runner prints from now on, and each line of a
 * multi-line value too: the runner matches masks line by line.
 */
function maskSecret(log, value) {
    if (value === '')
        return;
    log.setSecret(value);
    for (const line of value.split(/\r?\n/))
        if (line.trim().length > 3)
            log.setSecret(line);
}
/**
 * Encrypts secret values to every recipient. The plaintext is the canonical JSON of the values,
 * so `age -d -i key.txt` on a host prints them without this project's code.
 */
async function encryptSecrets(values, recipients) {
    if (recipients.length === 0) {
        throw new ConfigurationError({
            input: 'recipients',
            expected: 'at least one age recipient to encrypt the secrets to',
        });
    }
    const encrypter = new Encrypter();
    for (const recipient of parseRecipients(recipients))
        encrypter.addRecipient(recipient);
    return armor.encode(await encrypter.encrypt(canonicalJson(values)));
}
/** Decrypts what {@link encryptSecrets} wrote, with one or more identities. */
async function decryptSecrets(armored, identity) {
    const decrypter = new dist/* Decrypter */.Hz();
    for (const line of parseIdentities(identity))
        decrypter.addIdentity(line);
    let file;
    try {
        file = dist/* armor.decode */.yE.decode(armored);
    }
    catch (error) {
        throw new errors/* ConfigurationError */.j1({
            subject: 'secrets',
            problem: 'the ciphertext is not an armored age file',
            got: error.message,
        });
    }
    let plaintext;
    try {
        plaintext = await decrypter.decrypt(file, 'text');
    }
    catch (error) {
        const message = error.message;
        // age-encryption says so only in its message; it has no error type or code for it.
        if (/no identity matched/.test(message)) {
            throw new errors/* ConfigurationError */.j1({
                input: 'identity',
                problem: "does not decrypt the release's secrets: they were encrypted to other recipients",
            });
        }
        throw new errors/* ConfigurationError */.j1({
            subject: 'secrets',
            problem: 'the ciphertext is damaged',
            got: message,
        });
    }
    return parseSecretValues(plaintext);
}
/** The decrypted values; never shown in an error, whatever they hold. */
function parseSecretValues(plaintext) {
    let value;
    try {
        value = JSON.parse(plaintext);
    }
    catch {
        throw new errors/* ConfigurationError */.j1({ subject: 'secrets', problem: 'the decrypted text is not JSON' });
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        throw new errors/* ConfigurationError */.j1({
            subject: 'secrets',
            problem: 'the decrypted text is not a JSON object',
        });
    }
    const values = {};
    for (const [name, secret] of Object.entries(value)) {
        if (!shared_names/* ENV_NAME */.G1.test(name) || typeof secret !== 'string') {
            throw new errors/* ConfigurationError */.j1({
                subject: 'secrets',
                problem: 'a decrypted entry is not a name with a string value',
                got: (0,errors/* quoted */.TL)(name),
            });
        }
        values[name] = secret;
    }
    return values;
}
/**
 * Keyed digests of secret values, so two releases can be compared without decrypting either.
 * The HMAC key is derived from the signing key's private bytes: release.json is readable by
 * anyone who can read the repository's releases, and a plain hash of a short secret (a PIN, a
 * weak password) could be brute-forced offline; with a key only the signer holds, readers learn
 * nothing but "same" or "different". The name is hashed in, so two secrets that share a value
 * do not show it. Rotating the signing key makes every secret look changed once.
 */
function secretFingerprints(values, signingKey) {
    const key = signingKey.deriveSecret('secret fingerprints');
    const fingerprints = {};
    for (const name of Object.keys(values).sort()) {
        const hmac = createHmac('sha256', key).update(`${name}\0${values[name]}`, 'utf8');
        fingerprints[name] = `hmac-sha256:${hmac.digest('hex')}`;
    }
    return fingerprints;
}
/**
 * Text the step writes where the runner's masking may not reach (a job summary built from a
 * host's output), with every secret value, and each line of one, replaced by `***`: the same
 * values `maskSecret` registers.
 */
function redactSecrets(text, values) {
    const pieces = values
        .flatMap((value) => [value, ...value.split(/\r?\n/).filter((line) => line.trim().length > 3)])
        .filter((piece) => piece.length > 0)
        .sort((a, b) => b.length - a.length);
    let redacted = text;
    for (const piece of pieces)
        redacted = redacted.split(piece).join('***');
    return redacted;
}

;// CONCATENATED MODULE: ./shared/ssh-wire.ts

/** The wire encoding SSH keys and signatures use: uint32 lengths, length-prefixed strings. */
const ssh_wire_ED25519 = 'ssh-ed25519';
const KEY_TYPE_NAMES = {
    [ssh_wire_ED25519]: 'Ed25519',
    'ssh-rsa': 'RSA',
    'ssh-dss': 'DSA',
    'ecdsa-sha2-nistp256': 'ECDSA',
    'ecdsa-sha2-nistp384': 'ECDSA',
    'ecdsa-sha2-nistp521': 'ECDSA',
    'sk-ssh-ed25519@openssh.com': 'Ed25519-SK (security key)',
    'sk-ecdsa-sha2-nistp256@openssh.com': 'ECDSA-SK (security key)',
};
/** What a user calls a key type (RSA, ECDSA), or undefined for a type we do not know. */
function ssh_wire_keyTypeName(type) {
    return Object.hasOwn(KEY_TYPE_NAMES, type) ? KEY_TYPE_NAMES[type] : undefined;
}
/** Reads SSH wire fields; a short read is a plain Error the caller words for its user. */
class ssh_wire_Reader {
    bytes;
    what;
    offset = 0;
    constructor(bytes, what) {
        this.bytes = bytes;
        this.what = what;
    }
    get done() {
        return this.offset === this.bytes.length;
    }
    raw(length) {
        if (this.offset + length > this.bytes.length)
            throw new Error(`${this.what} is truncated`);
        const slice = this.bytes.subarray(this.offset, this.offset + length);
        this.offset += length;
        return slice;
    }
    uint32() {
        const b = this.raw(4);
        return ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;
    }
    bytesField() {
        return this.raw(this.uint32());
    }
    text() {
        return Buffer.from(this.bytesField()).toString('utf8');
    }
}
function ssh_wire_uint32(value) {
    const buffer = Buffer.alloc(4);
    buffer.writeUInt32BE(value);
    return buffer;
}
function ssh_wire_sshString(value) {
    const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(value);
    return Buffer.concat([ssh_wire_uint32(bytes.length), bytes]);
}
function ed25519Blob(publicKey) {
    return Buffer.concat([ssh_wire_sshString(ssh_wire_ED25519), ssh_wire_sshString(publicKey)]);
}
/** The `ssh-ed25519 AAAA…` line of an Ed25519 public key, as in a `.pub` file. */
function ssh_wire_publicKeyLine(publicKey) {
    return `${ssh_wire_ED25519} ${ed25519Blob(publicKey).toString('base64')}`;
}
function ssh_wire_base64url(bytes) {
    return Buffer.from(bytes).toString('base64url');
}
function ed25519PublicKeyObject(publicKey) {
    return (0,external_node_crypto_.createPublicKey)({
        key: { kty: 'OKP', crv: 'Ed25519', x: ssh_wire_base64url(publicKey) },
        format: 'jwk',
    });
}

;// CONCATENATED MODULE: ./shared/allowed-signers.ts


/** The one line that trusts `publicKey` (`ssh-ed25519 AAAA…`) for any principal and namespace. */
function keySigner(publicKey) {
    const [keyType = ''] = publicKey.split(' ');
    return { principals: '*', certAuthority: false, keyType, publicKey, line: 0 };
}
/** Key types a line may name; ssh-keygen reads the first word as a key when it is one of them. */
const KNOWN_KEY_TYPE = /^(ssh-ed25519|ssh-rsa|ssh-dss|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com)(-cert-v01@openssh\.com)?$/;
/**
 * Parses allowed_signers text as `ssh-keygen -Y verify -f` reads it (ssh-keygen(1), ALLOWED
 * SIGNERS): `principals [options] keytype base64-key [comment]`. A malformed line is refused
 * with its number: ssh-keygen only warns and skips it, which silently drops a trusted key or
 * loosens a restriction the user meant to set.
 */
function parseAllowedSigners(text) {
    const signers = [];
    for (const [index, rawLine] of text.split('\n').entries()) {
        const line = rawLine.replace(/\r$/, '').trim();
        if (line === '' || line.startsWith('#'))
            continue;
        const number = index + 1;
        const fail = (problem) => {
            throw new errors/* ConfigurationError */.j1({
                input: 'allowed-signers',
                subject: `line ${number}`,
                ...problem,
            });
        };
        let rest = line;
        let principals;
        if (rest.startsWith('"')) {
            const close = rest.indexOf('"', 1);
            if (close === -1)
                fail({ problem: 'the quoted principals have no closing quote' });
            principals = rest.slice(1, close);
            rest = rest.slice(close + 1).trimStart();
        }
        else {
            const match = /^(\S+)\s+(.*)$/.exec(rest);
            if (!match)
                return fail({ expected: '"principals [options] ssh-ed25519 AAAA…"' });
            principals = match[1];
            rest = match[2];
        }
        if (principals === '')
            fail({ problem: 'the principals field is empty' });
        const firstWord = /^\S+/.exec(rest)?.[0] ?? '';
        let options = {
            certAuthority: false,
        };
        if (!KNOWN_KEY_TYPE.test(firstWord)) {
            const { text: optionText, rest: afterOptions } = splitOptions(rest, fail);
            options = parseSignerOptions(optionText, fail);
            rest = afterOptions.trimStart();
        }
        const [keyType, keyData] = rest.split(/\s+/);
        if (keyType === undefined || keyType === '')
            return fail({ problem: 'the key is missing' });
        if (!KNOWN_KEY_TYPE.test(keyType)) {
            return fail({ problem: 'has an unknown key type', got: (0,errors/* quoted */.TL)(keyType) });
        }
        if (keyData === undefined || !/^[A-Za-z0-9+/]+={0,2}$/.test(keyData)) {
            return fail({ problem: `the ${keyType} key has no base64 key data` });
        }
        try {
            const embedded = new ssh_wire_Reader(Buffer.from(keyData, 'base64'), 'the key').text();
            if (embedded !== keyType)
                throw new Error(`the key data is a ${embedded} key`);
        }
        catch (error) {
            fail({ problem: `the ${keyType} key data is invalid`, got: error.message });
        }
        signers.push({
            principals,
            ...options,
            keyType,
            // Re-encoded, so a key is matched by its bytes and not by how its base64 was written.
            publicKey: `${keyType} ${Buffer.from(keyData, 'base64').toString('base64')}`,
            line: number,
        });
    }
    return signers;
}
/** Options end at the first space or tab outside double quotes. */
function splitOptions(text, fail) {
    let open = false;
    for (let i = 0; i < text.length; i++) {
        const c = text[i];
        if (c === '\\' && open && text[i + 1] === '"')
            i++;
        else if (c === '"')
            open = !open;
        else if (!open && (c === ' ' || c === '\t'))
            return { text: text.slice(0, i), rest: text.slice(i) };
    }
    if (open)
        fail({ problem: 'an option value has no closing quote' });
    return fail({ problem: 'the key is missing after the options' });
}
function parseSignerOptions(text, fail) {
    const result = {
        certAuthority: false,
    };
    let rest = text;
    while (rest !== '') {
        const name = /^[A-Za-z-]+/.exec(rest)?.[0]?.toLowerCase() ?? '';
        rest = rest.slice(name.length);
        let value;
        if (rest.startsWith('="')) {
            let i = 2;
            let out = '';
            for (; i < rest.length && rest[i] !== '"'; i++) {
                if (rest[i] === '\\' && rest[i + 1] === '"')
                    i++;
                out += rest[i];
            }
            if (i >= rest.length)
                fail({ problem: `option ${name} has no closing quote` });
            value = out;
            rest = rest.slice(i + 1);
        }
        const needsValue = () => value ?? fail({ problem: `option ${name} needs a quoted value, like ${name}="…"` });
        const once = (set) => {
            if (set !== undefined)
                fail({ problem: `multiple "${name}" clauses` });
        };
        switch (name) {
            case 'cert-authority':
                if (value !== undefined)
                    fail({ problem: 'option cert-authority takes no value' });
                result.certAuthority = true;
                break;
            case 'namespaces':
                once(result.namespaces);
                result.namespaces = needsValue();
                break;
            case 'valid-after':
                once(result.validAfter);
                result.validAfter = parseSignerTime(needsValue(), name, fail);
                break;
            case 'valid-before':
                once(result.validBefore);
                result.validBefore = parseSignerTime(needsValue(), name, fail);
                break;
            default:
                fail({ problem: 'has an unknown option', got: (0,errors/* quoted */.TL)(name || rest) });
        }
        if (rest === '')
            break;
        if (!rest.startsWith(',')) {
            fail({ problem: `unexpected text after option ${name}`, got: (0,errors/* quoted */.TL)(rest) });
        }
        rest = rest.slice(1);
        if (rest === '')
            fail({ problem: 'unexpected end of options after ","' });
    }
    if (result.validAfter && result.validBefore && result.validBefore <= result.validAfter) {
        fail({ problem: '"valid-before" time is before "valid-after"' });
    }
    return result;
}
/** `YYYYMMDD[HHMM[SS]]`, UTC with a `Z` (or `UTC`) suffix and local time without, as ssh-keygen. */
function parseSignerTime(text, option, fail) {
    const match = /^(\d{4})(\d{2})(\d{2})(?:(\d{2})(\d{2})(\d{2})?)?(Z|UTC)?$/i.exec(text);
    if (!match) {
        return fail({
            problem: `invalid "${option}" time`,
            expected: 'YYYYMMDD[HHMM[SS]][Z]',
            got: (0,errors/* quoted */.TL)(text),
        });
    }
    const [, y, mo, d, h = '0', mi = '0', s = '0', utc] = match;
    const parts = [Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)];
    const [year, month, day, hour, minute, second] = parts;
    const date = utc
        ? new Date(Date.UTC(year, month, day, hour, minute, second))
        : new Date(year, month, day, hour, minute, second);
    const check = utc
        ? [
            date.getUTCFullYear(),
            date.getUTCMonth(),
            date.getUTCDate(),
            date.getUTCHours(),
            date.getUTCMinutes(),
            date.getUTCSeconds(),
        ]
        : [
            date.getFullYear(),
            date.getMonth(),
            date.getDate(),
            date.getHours(),
            date.getMinutes(),
            date.getSeconds(),
        ];
    if (check.some((value, i) => value !== parts[i])) {
        fail({ problem: `invalid "${option}" time: no such date`, got: (0,errors/* quoted */.TL)(text) });
    }
    return date;
}

;// CONCATENATED MODULE: ./shared/signing-key.ts



/** The input that carries the key: every refusal names it and never shows the key's text. */
const INPUT = 'signing-key';
const PRIVATE_KEY_BEGIN = '-----BEGIN OPENSSH PRIVATE KEY-----';
const PRIVATE_KEY_END = '-----END OPENSSH PRIVATE KEY-----';
const MAKE_ONE = 'make one with ssh-keygen -t ed25519 -N ""';
function signing_key_refusal(problem) {
    return new ConfigurationError({ input: INPUT, ...problem });
}
/**
 * A release signing key. The private half lives only in private fields, so the key never shows
 * up when an object holding it is logged or serialised.
 */
class SigningKey {
    /** `ssh-ed25519 AAAA…`, the line to put in allowed_signers. */
    publicKey;
    comment;
    #privateKey;
    #seed;
    constructor(seed, publicKey, comment) {
        this.#seed = Buffer.from(seed);
        this.#privateKey = createPrivateKey({
            key: { kty: 'OKP', crv: 'Ed25519', d: base64url(seed), x: base64url(publicKey) },
            format: 'jwk',
        });
        const derived = createPublicKey(this.#privateKey).export({ format: 'jwk' });
        if (derived.x !== base64url(publicKey)) {
            throw signing_key_refusal({
                problem: 'the private key does not match its public key',
                hint: 'the key file is damaged',
            });
        }
        this.publicKey = publicKeyLine(publicKey);
        this.comment = comment;
    }
    /** A raw Ed25519 signature (64 bytes) over `data`. */
    sign(data) {
        return sign(null, data, this.#privateKey);
    }
    /**
     * A 32-byte secret bound to this key and to `purpose` (HKDF-SHA256 over the private seed), for
     * keyed digests that only the holder of the signing key can compute.
     */
    deriveSecret(purpose) {
        return new Uint8Array(hkdfSync('sha256', this.#seed, '', `build-release-run ${purpose}`, 32));
    }
}
/**
 * Parses an unencrypted OpenSSH Ed25519 private key, as `ssh-keygen -t ed25519 -N ''` writes it.
 * Every refusal names what the text is instead, so the user knows which key to fetch.
 */
function parseSigningKey(text) {
    const trimmed = text.replace(/\r\n/g, '\n').trim();
    if (!trimmed.startsWith(PRIVATE_KEY_BEGIN))
        throw notAnOpenSshKey(trimmed);
    const end = trimmed.indexOf(PRIVATE_KEY_END);
    if (end === -1) {
        throw signing_key_refusal({
            problem: `the OpenSSH private key has no '${PRIVATE_KEY_END}' line`,
            hint: 'paste the whole file',
        });
    }
    const body = trimmed.slice(PRIVATE_KEY_BEGIN.length, end).replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body)) {
        throw signing_key_refusal({ problem: 'the OpenSSH private key is not valid base64' });
    }
    try {
        return readOpenSshKey(Buffer.from(body, 'base64'));
    }
    catch (error) {
        if (error instanceof ConfigurationError)
            throw error;
        throw signing_key_refusal({ problem: 'the OpenSSH private key is damaged', got: error.message });
    }
}
function notAnOpenSshKey(text) {
    if (text === '')
        return signing_key_refusal({ problem: 'is empty' });
    const pem = /^-----BEGIN ([A-Z0-9 ]{1,40})-----/.exec(text)?.[1];
    if (pem !== undefined) {
        return signing_key_refusal({
            expected: `an OpenSSH Ed25519 private key (${PRIVATE_KEY_BEGIN})`,
            got: `a PEM "${pem}"`,
            hint: MAKE_ONE,
        });
    }
    const type = /^(\S{1,64}) AAAA/.exec(text)?.[1];
    if (type !== undefined) {
        return signing_key_refusal({
            expected: 'the private key',
            got: `a public key (${type})`,
            hint: 'pass the file without .pub',
        });
    }
    return signing_key_refusal({
        expected: `an OpenSSH Ed25519 private key starting with ${PRIVATE_KEY_BEGIN}`,
        hint: MAKE_ONE,
    });
}
function readOpenSshKey(bytes) {
    const reader = new Reader(bytes, 'the key');
    if (Buffer.from(reader.raw(15)).toString('latin1') !== 'openssh-key-v1\0') {
        throw new Error('bad magic');
    }
    const cipher = reader.text();
    const kdf = reader.text();
    reader.bytesField();
    const count = reader.uint32();
    if (count !== 1)
        throw signing_key_refusal({ expected: 'one key in the file', got: `${count} keys` });
    const publicBlob = new Reader(reader.bytesField(), 'the public key');
    const type = publicBlob.text();
    if (type !== ED25519) {
        if (!/^[\x21-\x7e]{1,64}$/.test(type))
            throw new Error('unreadable key type');
        const name = keyTypeName(type);
        throw signing_key_refusal({
            expected: 'an Ed25519 key',
            got: name !== undefined ? `an ${name} key` : `a key of type ${JSON.stringify(type)}`,
            hint: 'make one with ssh-keygen -t ed25519',
        });
    }
    if (cipher !== 'none' || kdf !== 'none') {
        throw signing_key_refusal({
            problem: 'the key is protected by a passphrase',
            hint: 'a CI secret needs a key without one (ssh-keygen -p -N "" -f KEY removes it)',
        });
    }
    const publicKey = publicBlob.bytesField();
    const secret = new Reader(reader.bytesField(), 'the private section');
    if (secret.uint32() !== secret.uint32())
        throw new Error('check bytes differ');
    if (secret.text() !== ED25519)
        throw new Error('private key type differs from public key type');
    const embeddedPublic = secret.bytesField();
    const privateBytes = secret.bytesField();
    const comment = secret.text();
    if (publicKey.length !== 32 ||
        privateBytes.length !== 64 ||
        !Buffer.from(embeddedPublic).equals(Buffer.from(publicKey)) ||
        !Buffer.from(privateBytes.subarray(32)).equals(Buffer.from(publicKey))) {
        throw new Error('inconsistent Ed25519 key material');
    }
    return new SigningKey(privateBytes.subarray(0, 32), publicKey, comment);
}

;// CONCATENATED MODULE: ./shared/signature.ts






/**
 * SSHSIG signatures (OpenSSH's PROTOCOL.sshsig), Ed25519 only, written byte for byte as
 * `ssh-keygen -Y sign` writes them, so any host can check a release with `ssh-keygen -Y verify`
 * and without this project's code.
 */
const SIGNATURE_NAMESPACE = 'build-release-run';
/** The problem of a good signature by a key no allowed-signers line names. */
const UNTRUSTED_KEY = 'is made by a key that is not in allowed-signers';
const MAGIC = 'SSHSIG';
const HASH = 'sha512';
const SIGNATURE_BEGIN = '-----BEGIN SSH SIGNATURE-----';
const SIGNATURE_END = '-----END SSH SIGNATURE-----';
/** A refusal of the signature; the caller says which file it was, as the subject. */
function signature_refusal(problem) {
    return new errors/* ConfigurationError */.j1({ subject: 'the signature', ...problem });
}
function signedData(namespace, hash, messageHash) {
    return Buffer.concat([
        Buffer.from(MAGIC),
        ssh_wire_sshString(namespace),
        ssh_wire_sshString(''),
        ssh_wire_sshString(hash),
        ssh_wire_sshString(messageHash),
    ]);
}
/** Signs `message` and returns the armored signature `ssh-keygen -Y sign` would write. */
function signMessage(message, key, namespace = SIGNATURE_NAMESPACE) {
    const messageHash = createHash(HASH).update(message).digest();
    const signature = key.sign(signedData(namespace, HASH, messageHash));
    const publicBlob = Buffer.from(key.publicKey.split(' ')[1], 'base64');
    const blob = Buffer.concat([
        Buffer.from(MAGIC),
        uint32(1),
        sshString(publicBlob),
        sshString(namespace),
        sshString(''),
        sshString(HASH),
        sshString(Buffer.concat([sshString(ED25519), sshString(signature)])),
    ]);
    const lines = blob.toString('base64').match(/.{1,70}/g) ?? [];
    return `${SIGNATURE_BEGIN}\n${lines.join('\n')}\n${SIGNATURE_END}\n`;
}
/**
 * Checks an armored SSHSIG over `message` against allowed signers, as `ssh-keygen -Y verify`
 * does (without certificates). Each refusal names why, so a failed deploy says whether the
 * file was tampered with or the key is simply not trusted here. What the signature itself says
 * (its namespace, its types) is untrusted and shown only as what was got.
 */
function verifyMessage(message, armoredSignature, allowedSigners, options = {}) {
    const namespace = options.namespace ?? SIGNATURE_NAMESPACE;
    const parsed = parseSignature(armoredSignature);
    if (parsed.namespace !== namespace) {
        throw signature_refusal({
            problem: 'is made for another namespace',
            expected: JSON.stringify(namespace),
            got: (0,errors/* quoted */.TL)(parsed.namespace),
        });
    }
    const messageHash = (0,external_node_crypto_.createHash)(parsed.hash).update(message).digest();
    const signed = signedData(namespace, parsed.hash, messageHash);
    if (!(0,external_node_crypto_.verify)(null, signed, ed25519PublicKeyObject(parsed.rawPublicKey), parsed.signature)) {
        throw signature_refusal({
            problem: 'does not match the signed bytes',
            hint: 'the file or its signature was changed',
        });
    }
    const publicKey = ssh_wire_publicKeyLine(parsed.rawPublicKey);
    return allowedSigner(publicKey, allowedSigners, namespace, options.now ?? new Date());
}
/** The allowed_signers line that lets `publicKey` sign for `namespace` at `now`. */
function allowedSigner(publicKey, allowedSigners, namespace, now) {
    const candidates = allowedSigners.filter((signer) => !signer.certAuthority && signer.publicKey === publicKey);
    if (candidates.length === 0) {
        const ca = allowedSigners.some((signer) => signer.certAuthority);
        throw signature_refusal({
            problem: UNTRUSTED_KEY,
            got: publicKey,
            hint: ca ? 'cert-authority lines are ignored: certificates are not supported' : undefined,
        });
    }
    const allows = (signer) => signer.namespaces === undefined || matchPatternList(namespace, signer.namespaces);
    const allowed = candidates.find((signer) => allows(signer) &&
        (signer.validAfter === undefined || now >= signer.validAfter) &&
        (signer.validBefore === undefined || now <= signer.validBefore));
    if (allowed)
        return { principal: allowed.principals, publicKey };
    const signer = candidates[0];
    const why = !allows(signer)
        ? `its namespaces="${signer.namespaces}" excludes ${JSON.stringify(namespace)}`
        : signer.validAfter !== undefined && now < signer.validAfter
            ? `it is not valid before ${signer.validAfter.toISOString()}`
            : `it expired at ${signer.validBefore?.toISOString() ?? '?'}`;
    throw signature_refusal({
        problem: `is made by the key of allowed-signers line ${signer.line}, but ${why}`,
    });
}
/** The armored SSHSIG, read and checked for form: Ed25519, version 1, a known hash. */
function parseSignature(armored) {
    let blob;
    try {
        blob = parseSignatureBlob(dearmor(armored));
    }
    catch (error) {
        if (error instanceof errors/* ConfigurationError */.j1)
            throw error;
        throw signature_refusal({ problem: 'is a malformed SSHSIG blob', got: error.message });
    }
    if (blob.keyType !== ssh_wire_ED25519) {
        const name = ssh_wire_keyTypeName(blob.keyType);
        throw signature_refusal({
            problem: 'is made with a key of another type',
            expected: 'an Ed25519 key',
            got: name !== undefined ? `an ${name} key` : (0,errors/* quoted */.TL)(blob.keyType),
        });
    }
    if (blob.rawPublicKey.length !== 32) {
        throw signature_refusal({ problem: 'holds a malformed Ed25519 public key' });
    }
    if (blob.signatureType !== ssh_wire_ED25519 || blob.signature.length !== 64) {
        throw signature_refusal({
            problem: 'is a malformed SSHSIG blob',
            expected: 'a 64-byte ssh-ed25519 signature',
            got: `${(0,errors/* quoted */.TL)(blob.signatureType)} of ${blob.signature.length} bytes`,
        });
    }
    if (blob.hash !== 'sha512' && blob.hash !== 'sha256') {
        throw signature_refusal({ problem: 'uses an unsupported hash algorithm', got: (0,errors/* quoted */.TL)(blob.hash) });
    }
    return { ...blob, hash: blob.hash };
}
function dearmor(armored) {
    const text = armored.replace(/\r\n/g, '\n').trim();
    if (!text.startsWith(`${SIGNATURE_BEGIN}\n`)) {
        throw signature_refusal({ expected: `armored text starting with ${SIGNATURE_BEGIN}` });
    }
    const end = text.indexOf(`\n${SIGNATURE_END}`);
    if (end === -1)
        throw signature_refusal({ problem: `is missing ${SIGNATURE_END}` });
    const body = text.slice(SIGNATURE_BEGIN.length, end).replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(body) || body.length % 4 !== 0) {
        throw signature_refusal({ problem: 'is not valid base64' });
    }
    return Buffer.from(body, 'base64');
}
function parseSignatureBlob(blob) {
    const reader = new ssh_wire_Reader(blob, 'the signature');
    if (Buffer.from(reader.raw(6)).toString('latin1') !== MAGIC)
        throw new Error('bad magic');
    const version = reader.uint32();
    if (version !== 1) {
        throw signature_refusal({
            problem: 'has an unsupported SSHSIG version',
            expected: '1',
            got: `${version}`,
        });
    }
    const publicBlob = reader.bytesField();
    const namespace = reader.text();
    reader.bytesField();
    const hash = reader.text();
    const wrapped = new ssh_wire_Reader(reader.bytesField(), 'the signature field');
    if (!reader.done)
        throw new Error('trailing data');
    const signatureType = wrapped.text();
    const signature = wrapped.bytesField();
    if (!wrapped.done)
        throw new Error('trailing data in the signature field');
    const publicReader = new ssh_wire_Reader(publicBlob, 'the signing key');
    const keyType = publicReader.text();
    const rawPublicKey = keyType === ssh_wire_ED25519 ? publicReader.bytesField() : new Uint8Array();
    if (keyType === ssh_wire_ED25519 && !publicReader.done) {
        throw new Error('trailing data in the signing key');
    }
    return { keyType, rawPublicKey, namespace, hash, signatureType, signature };
}

;// CONCATENATED MODULE: ./shared/verify.ts












function subjectOf(entry) {
    return `release ${entry.tag}`;
}
/** A lower layer's refusal, said of this release; its own subject (if any) follows. */
function concerning(entry, error) {
    const inner = error.problem.subject;
    const subject = inner === undefined ? subjectOf(entry) : `${subjectOf(entry)}: ${inner}`;
    return new errors/* ConfigurationError */.j1({ ...error.problem, subject });
}
function asset(entry, name) {
    const found = entry.assets.find((candidate) => candidate.name === name);
    if (!found) {
        throw new errors/* ConfigurationError */.j1({
            subject: subjectOf(entry),
            problem: `has no ${name} asset`,
            hint: 'it was not made by build-release-run, or is incomplete',
        });
    }
    return found;
}
/** Small assets only: a manifest or a signature larger than this is not one. */
const MAX_MANIFEST_BYTES = 1024 * 1024;
/**
 * Downloads release.json and its signature and checks them: signed by a key in
 * `allowedSigners` for the build-release-run namespace, and naming the app, environment and
 * ID it was published under (so a signed manifest cannot be replayed under another tag).
 */
async function verifyManifest(github, scope, entry, allowedSigners, now = new Date()) {
    const repository = { owner: scope.owner, repo: scope.repo };
    const manifestAsset = asset(entry, MANIFEST_ASSET);
    const signatureAsset = asset(entry, SIGNATURE_ASSET);
    for (const small of [manifestAsset, signatureAsset]) {
        if (small.size > MAX_MANIFEST_BYTES) {
            throw new errors/* ConfigurationError */.j1({
                subject: `${subjectOf(entry)}: ${small.name}`,
                problem: `is ${small.size} bytes, too large to be one`,
            });
        }
    }
    const [bytes, signature] = await Promise.all([
        downloadAsset(github, repository, manifestAsset.id),
        downloadAsset(github, repository, signatureAsset.id),
    ]);
    const checked = verifySignedManifest({ bytes, signature }, { app: scope.app, environment: scope.environment, id: entry.id }, {
        allowedSigners,
        now,
        source: {
            subject: subjectOf(entry),
            manifest: `${entry.tag} ${MANIFEST_ASSET}`,
            misnamed: 'it was published under the wrong tag',
        },
    });
    return { entry, ...checked };
}
/**
 * release.json and its signature, wherever they were found (a release's assets, a host's copy):
 * signed by a key in `allowedSigners` for the build-release-run namespace, and naming the app,
 * environment and ID they were found under, so a signed manifest cannot be replayed elsewhere.
 */
function verifySignedManifest(found, expected, options) {
    const { bytes, signature } = found;
    const { source } = options;
    let signer;
    try {
        signer = verifyMessage(bytes, signature.toString('utf8'), options.allowedSigners, {
            ...(options.now ? { now: options.now } : {}),
        });
    }
    catch (error) {
        if (!(error instanceof errors/* ConfigurationError */.j1))
            throw error;
        throw new errors/* ConfigurationError */.j1({
            ...error.problem,
            subject: `${source.subject} is not trusted: ${SIGNATURE_ASSET}`,
        });
    }
    const manifest = parseManifest(bytes, source.manifest);
    const asked = `${expected.app}/${expected.environment}/${expected.id}`;
    const named = `${manifest.app}/${manifest.environment}/${manifest.id}`;
    if (named !== asked) {
        throw new errors/* ConfigurationError */.j1({
            subject: source.subject,
            problem: `its signed ${MANIFEST_ASSET} is for ${named}, not ${asked}`,
            ...(source.misnamed ? { hint: source.misnamed } : {}),
        });
    }
    return { manifest, bytes, signature, digest: digestOf(bytes), signer };
}
/**
 * Checks a verified release's `previous` link against the release before it as published: that
 * release must exist in the ledger, its release.json be signed by an allowed signer, and its
 * bytes have the digest the link records. Returns the predecessor, or undefined for a first
 * release. A link that does not hold means the ledger was rewritten after this release was made.
 */
async function verifyPreviousLink(github, release, options) {
    const link = release.manifest.previous;
    if (link === null)
        return undefined;
    const entry = await findRelease(github, options.scope, link.id);
    if (entry === undefined) {
        throw new errors/* ConfigurationError */.j1({
            subject: subjectOf(release.entry),
            problem: `names ${link.id} as its previous release, but the ledger has no published release ${link.id}`,
            hint: 'the ledger was changed after this release was made',
        });
    }
    const before = await verifyManifest(github, options.scope, entry, options.allowedSigners, options.now);
    checkPreviousLink(release, before);
    return before;
}
async function verifyBundle(github, release, options) {
    const { manifest, entry } = release;
    const { size: expectedSize, digest: expectedDigest, compression } = manifest.build;
    const name = bundleFileName(manifest.app, manifest.build.sha, compression);
    const bundleAsset = asset(entry, name);
    const replaced = (got) => new errors/* ConfigurationError */.j1({
        subject: `${subjectOf(entry)}: the bundle ${name}`,
        expected: `${expectedDigest} (${expectedSize} bytes), as ${MANIFEST_ASSET} says`,
        got,
        hint: 'the asset was replaced or damaged',
    });
    if (bundleAsset.size !== expectedSize)
        throw replaced(`an asset of ${bundleAsset.size} bytes`);
    const directory = await (0,external_node_fs_promises_.mkdtemp)(external_node_path_default().join(options.tempDir, 'run-bundle-'));
    let recorder;
    try {
        const file = external_node_path_default().join(directory, name);
        const content = external_node_path_default().join(directory, 'content');
        recorder = options.keep ? await ContentRecorder.create(content, file) : undefined;
        options.log.info(`Downloading ${name} (${bundleAsset.size} bytes)`);
        const { owner, repo } = options.scope;
        const body = await openAsset(github, { owner, repo }, bundleAsset.id);
        const cap = options.maxExpandedBytes ?? defaultMaxExpandedBytes(expectedSize);
        const checking = { compression, maxExpandedBytes: cap };
        const received = await receive(body, file, expectedSize + 1, async (bytes) => {
            if (recorder)
                return recorder.record(bytes, checking);
            for await (const checked of checkedEntries(bytes, checking))
                void checked;
        });
        if (received.size > expectedSize)
            throw replaced(`more than ${expectedSize} bytes`);
        if (received.digest !== expectedDigest || received.size !== expectedSize) {
            throw replaced(`${received.digest} (${received.size} bytes)`);
        }
        if (received.refusal)
            throw concerning(entry, received.refusal);
        const size = received.size;
        if (recorder) {
            return { size, directory, payload: new ReleasePayload(await recorder.finish(), directory) };
        }
        return { file: external_node_path_default().join(directory, name), size, directory };
    }
    catch (error) {
        await recorder?.abort();
        await (0,external_node_fs_promises_.rm)(directory, { recursive: true, force: true });
        throw error;
    }
}
/**
 * The release's config: its vars, and its secrets decrypted with `identity`. Every secret value
 * (and each of its lines) is masked before anything else can print it. The `.env` is rendered
 * once here, so a value no .env can carry stops the run before any host is touched.
 */
async function releaseConfig(release, identity, log) {
    const { manifest, entry } = release;
    const secrets = manifest.config.secrets;
    let values = {};
    if (secrets !== null) {
        if (identity === undefined) {
            throw new errors/* ConfigurationError */.j1({
                input: 'identity',
                problem: `is required: ${subjectOf(entry)} has secrets (${secrets.names.join(', ')})`,
                hint: 'pass the age identity (AGE-SECRET-KEY-1…) they were encrypted to',
            });
        }
        values = await withSubject(entry, () => decryptSecrets(secrets.ciphertext, identity));
        for (const value of Object.values(values))
            maskSecret(log, value);
        const decrypted = Object.keys(values).sort();
        if (decrypted.join('\n') !== secrets.names.join('\n')) {
            throw new errors/* ConfigurationError */.j1({
                subject: subjectOf(entry),
                problem: `its secrets decrypt to ${decrypted.join(', ') || 'nothing'}, but ${MANIFEST_ASSET} lists ${secrets.names.join(', ')}`,
            });
        }
    }
    const env = { ...manifest.config.vars, ...values };
    await withSubject(entry, () => renderEnvFile(env));
    return { env, secretNames: secrets?.names ?? [] };
}
/** Runs `work`, saying of any refusal which release it concerns. */
async function withSubject(entry, work) {
    try {
        return await work();
    }
    catch (error) {
        if (!(error instanceof errors/* ConfigurationError */.j1))
            throw error;
        throw concerning(entry, error);
    }
}

;// CONCATENATED MODULE: ./shared/fleet/order.ts





/** What each host runs and holds, read over the step's connections: reading changes nothing. */
async function hostStates(options) {
    const connections = await options.fleet.connections();
    return Promise.all(connections.map((c) => readHostState(c.transport, { root: options.root, log: options.log })));
}
/**
 * A release's place in the ledger's order. A numbered release `v<N>` is at N. A release made
 * with an explicit ID sits just after the release its signed release.json links to (it was made
 * after that one, and before the next number), so it is read from the ledger; one the ledger no
 * longer has cannot be placed: undefined.
 */
async function placeOf(options, id) {
    const number = (0,shared_names/* releaseNumber */.BP)(id);
    if (number !== undefined)
        return number;
    const entry = await findRelease(options.github, options.scope, id);
    if (entry === undefined)
        return undefined;
    const { manifest } = await verifyManifest(options.github, options.scope, entry, options.allowedSigners);
    const previous = manifest.previous === null ? 0 : (0,shared_names/* releaseNumber */.BP)(manifest.previous.id);
    return previous === undefined ? undefined : previous + 0.5;
}
/**
 * `latest` never moves a host backwards: when a host runs a release that comes after the newest
 * published one (the newest was deleted, or unpublished), the run stops before any change and
 * names both. Deploying an explicit ID is how to go back on purpose.
 */
async function checkNotBackwards(options, latest) {
    const states = await hostStates(options);
    const places = new Map();
    for (const { current } of states) {
        if (current !== undefined && !places.has(current)) {
            places.set(current, await placeOf(options, current));
        }
    }
    const refusal = backwardsRefusal(states, latest.manifest.id, places);
    if (refusal)
        throw refusal;
}
/**
 * The refusal of `latest` (`newest`) over hosts of which some run a release placed after it, or
 * one that cannot be placed (`places` maps each current release to its place, if it has one).
 */
function backwardsRefusal(states, newest, places) {
    const limit = (0,shared_names/* releaseNumber */.BP)(newest) ?? Number.POSITIVE_INFINITY;
    const ahead = states.filter(({ current }) => {
        if (current === undefined || current === newest)
            return false;
        const place = places.get(current);
        return place === undefined || place > limit;
    });
    if (ahead.length === 0)
        return undefined;
    const ids = new Set(ahead.map((state) => state.current));
    const running = ahead.length === states.length && ids.size === 1
        ? `the hosts run ${ahead[0].current}`
        : ahead.map((state) => `host ${state.host} runs ${state.current}`).join(', ');
    return new errors/* ConfigurationError */.j1({
        input: 'release-id',
        problem: `latest would move hosts backwards: ${running}, the newest published release is ${newest}`,
        hint: `deploy ${newest} explicitly to roll back`,
    });
}

;// CONCATENATED MODULE: ./shared/fleet/resolve.ts







/** `latest` or an explicit ID, looked up in the ledger: published releases only. */
async function resolveFromLedger(github, scope, selector) {
    const where = `${scope.app}/${scope.environment}`;
    if (selector === 'latest') {
        const latest = await latestRelease(github, scope);
        if (!latest) {
            throw new errors/* ConfigurationError */.j1({
                input: 'release-id',
                problem: `${where} has no published release yet`,
                hint: 'run release-action first',
            });
        }
        return latest;
    }
    const entry = await findRelease(github, scope, selector);
    if (!entry) {
        throw new errors/* ConfigurationError */.j1({
            input: 'release-id',
            problem: `${where} has no published release ${selector} (no GitHub Release tagged ${where}/${selector})`,
        });
    }
    return entry;
}
/**
 * What `previous` means on these hosts: the last good release before the current one, from each
 * host's history. Every host must name the same one, else going back would split the fleet.
 */
function previousFromHosts(states) {
    const ids = new Set(states.map((state) => state.previous));
    const currents = new Set(states.map((state) => state.current));
    if (ids.size > 1 || currents.size > 1) {
        const described = states
            .map((state) => `${state.host} is on ${state.current ?? 'nothing'}, previous ${state.previous ?? 'none'}`)
            .join('; ');
        throw new errors/* ConfigurationError */.j1({
            input: 'release-id',
            problem: `previous: the hosts disagree (${described})`,
            hint: 'deploy an explicit release-id to bring them together',
        });
    }
    const missing = states.filter((state) => state.previous === undefined);
    if (missing.length > 0) {
        const described = missing
            .map((state) => state.current === undefined
            ? `${state.host} has nothing deployed`
            : `${state.host} has no good release before ${state.current} left on it`)
            .join('; ');
        throw new errors/* ConfigurationError */.j1({
            input: 'release-id',
            problem: `previous: ${described}`,
            hint: 'deploy an explicit release-id instead',
        });
    }
    return { id: states[0].previous, current: states[0].current };
}
/**
 * Finds the release the step deploys and verifies it: release.json signed by an allowed signer,
 * its link in the ledger, the bundle's digest and entries, its secrets decrypted. For `previous`
 * it asks the hosts what that is, and checks each holds the signed release.json.
 */
async function resolveRelease(options) {
    const { log, checklist } = options;
    if (options.selector === 'previous') {
        const verified = await resolvePrevious(options);
        return {
            verified,
            rollback: true,
            hostRelease: undefined,
            secretValues: [],
            dispose: () => Promise.resolve(),
        };
    }
    const { github, scope, allowedSigners, maxExpandedBytes } = options;
    const entry = await resolveFromLedger(github, scope, options.selector);
    checklist.pass(`release ${entry.id} found in the ledger: [${entry.tag}](${entry.url})`);
    const verified = await verifyManifest(github, scope, entry, allowedSigners);
    const { manifest } = verified;
    checklist.pass(`${MANIFEST_ASSET} signed by ${(0,markdown/* code */.aY)(verified.signer.principal)}`);
    describeRelease(verified, log);
    await checkLink(github, verified, { scope, allowedSigners });
    if (verified.manifest.previous !== null) {
        checklist.pass(`the link to ${verified.manifest.previous.id}: its digest and signature`);
    }
    if (options.selector === 'latest')
        await checkNotBackwards(options, verified);
    const bundle = await verifyBundle(github, verified, {
        scope,
        tempDir: options.tempDir,
        log,
        keep: true,
        ...(maxExpandedBytes !== undefined ? { maxExpandedBytes } : {}),
    });
    checklist.pass(`the bundle: its digest ${(0,markdown/* code */.aY)(manifest.build.digest)} and every entry`);
    const { payload } = bundle;
    const dispose = () => (0,external_node_fs_promises_.rm)(bundle.directory, { recursive: true, force: true });
    try {
        const config = await releaseConfig(verified, options.identity, log);
        const secrets = config.secretNames.length;
        checklist.pass(`the config: ${secrets} secret${secrets === 1 ? '' : 's'} decrypted`);
        log.info(`Verified ${entry.tag}: bundle ${manifest.build.digest}, ${config.secretNames.length} secrets decrypted`);
        const hostRelease = {
            id: manifest.id,
            digest: manifest.build.digest,
            manifestBytes: verified.bytes,
            signatureBytes: verified.signature,
            env: config.env,
            payload,
        };
        const secretValues = config.secretNames.flatMap((name) => config.env[name] ?? []);
        return { verified, rollback: false, hostRelease, secretValues, dispose };
    }
    catch (error) {
        await dispose();
        throw error;
    }
}
/**
 * The release's link to the one before it. A refusal that concerns the release before (not
 * trusted, not what its tag says) is said as found while checking this release's link.
 */
async function checkLink(github, release, options) {
    try {
        await verifyPreviousLink(github, release, options);
    }
    catch (error) {
        if (!(error instanceof errors/* ConfigurationError */.j1))
            throw error;
        const own = `release ${release.entry.tag}`;
        const inner = error.problem.subject;
        if (inner === own || inner?.startsWith(`${own}:`))
            throw error;
        const subject = `${own}: checking its previous release${inner === undefined ? '' : `: ${inner}`}`;
        throw new errors/* ConfigurationError */.j1({ ...error.problem, subject }, { cause: error });
    }
}
function describeRelease({ manifest, entry, signer }, log) {
    log.info(`${entry.tag}: ${manifest.changes} (build ${manifest.build.sha.slice(0, 7)}); release.json signed by ${signer.principal}`);
}
async function resolvePrevious(options) {
    const { github, scope, log } = options;
    const states = await hostStates(options);
    options.checklist.pass(`connected to ${states.length} host${states.length === 1 ? '' : 's'}`);
    options.checklist.read(states.map((state) => ({ host: state.host, current: state.current })));
    const previous = previousFromHosts(states);
    log.info(`previous: ${previous.id} (the hosts run ${previous.current ?? 'nothing'})`);
    const entry = await findRelease(github, scope, previous.id);
    if (!entry) {
        throw new errors/* ConfigurationError */.j1({
            input: 'release-id',
            problem: `previous: the hosts name ${previous.id}, but ${scope.app}/${scope.environment} has no published release ${previous.id}`,
        });
    }
    const verified = await verifyManifest(github, scope, entry, options.allowedSigners);
    options.checklist.pass(`${MANIFEST_ASSET} of ${previous.id} signed by ${(0,markdown/* code */.aY)(verified.signer.principal)}`);
    await checkLink(github, verified, { scope, allowedSigners: options.allowedSigners });
    for (const state of states) {
        const copy = state.releases.find((r) => r.id === previous.id);
        if (copy?.manifestDigest !== verified.digest) {
            throw new errors/* ConfigurationError */.j1({
                subject: `host ${state.host}`,
                problem: `releases/${previous.id} does not hold the signed release.json of ${entry.tag} (${copy?.manifestDigest ?? 'none'} vs ${verified.digest})`,
                hint: `deploy release-id ${previous.id} to replace it`,
            });
        }
    }
    describeRelease(verified, log);
    return verified;
}

// EXTERNAL MODULE: external "node:string_decoder"
var external_node_string_decoder_ = __webpack_require__(6193);
;// CONCATENATED MODULE: ./shared/log.ts

/** A log that says nothing, for tests and tools that have no runner. */
const silentLog = {
    info: () => undefined,
    warning: () => undefined,
    debug: () => undefined,
    setSecret: () => undefined,
    group: (_title, body) => body(),
};
/**
 * Prints what a command on a host wrote, between stop-commands markers: a line in it that looks
 * like a workflow command (`::add-mask::`, `::error::`) is shown, never obeyed.
 */
function logOutput(log, text) {
    const token = (0,external_node_crypto_.randomBytes)(16).toString('hex');
    log.info(`::stop-commands::${token}`);
    log.info(text);
    log.info(`::${token}::`);
}
function replay(log, entries) {
    for (const entry of entries) {
        if (entry.kind === 'group') {
            // A group inside a held one cannot fold on the runner: its lines go in the outer group.
            log.info(`${entry.title}:`);
            replay(log, entry.entries);
        }
        else
            log[entry.kind](entry.text);
    }
}
/**
 * A log that keeps what it is told until `flush`, which prints it folded under `title`: for work
 * that runs beside other work (hosts deployed in parallel), whose lines would interleave. Masking
 * is never held back.
 */
function heldLog(parent) {
    const root = [];
    let into = root;
    return {
        info: (text) => into.push({ kind: 'info', text }),
        warning: (text) => into.push({ kind: 'warning', text }),
        debug: (text) => into.push({ kind: 'debug', text }),
        setSecret: (value) => parent.setSecret(value),
        async group(title, body) {
            const outer = into;
            const entries = [];
            outer.push({ kind: 'group', title, entries });
            into = entries;
            try {
                return await body();
            }
            finally {
                into = outer;
            }
        },
        flush: (title) => parent.group(title, () => {
            replay(parent, root.splice(0));
            return Promise.resolve();
        }),
    };
}

;// CONCATENATED MODULE: ./shared/host/live-output.ts


/** Lines of one command's output shown in the log; past it the log says how much it left out. */
const LINE_LIMIT = 500;
/**
 * A command's output (a restart, a health check) printed to the log line by line as it comes,
 * so a person watching the job sees what the host says while it says it. Bounded: a command
 * that prints without end does not flood the log; the tail still reaches the summary.
 */
class LiveOutput {
    log;
    limit;
    decoder = new external_node_string_decoder_.StringDecoder('utf8');
    pending = '';
    lines = 0;
    skipped = 0;
    constructor(log, limit = LINE_LIMIT) {
        this.log = log;
        this.limit = limit;
    }
    write = (chunk) => {
        const text = this.pending + this.decoder.write(chunk);
        const end = text.lastIndexOf('\n');
        if (end < 0) {
            this.pending = text;
            return;
        }
        this.pending = text.slice(end + 1);
        this.print(text.slice(0, end).split('\n'));
    };
    /** Prints what is left of the last line, and how many lines were left out. */
    end() {
        const rest = this.pending + this.decoder.end();
        this.pending = '';
        if (rest !== '')
            this.print([rest]);
        if (this.skipped > 0) {
            this.log.info(`(${this.skipped} more lines of output not shown; the summary has the last ones)`);
            this.skipped = 0;
        }
    }
    print(lines) {
        const room = Math.max(0, this.limit - this.lines);
        const shown = lines.slice(0, room).map((line) => line.replace(/\r$/, ''));
        this.skipped += lines.length - shown.length;
        this.lines += shown.length;
        if (shown.length > 0)
            logOutput(this.log, shown.join('\n'));
    }
}

;// CONCATENATED MODULE: ./shared/fleet/release-command.ts


/** A command as one line, for a log group's title or a summary: its first line, marked if more. */
function commandLine(command) {
    const lines = command.trim().split(/\r?\n/);
    return lines.length > 1 ? `${lines[0].trim()} …` : (lines[0] ?? '');
}
/**
 * The `release-command` inputs checked: the host it runs on is one of `hosts` (by default the
 * first); naming a host without a command is a mistake.
 */
function releaseCommandFrom(inputs) {
    const { command } = inputs;
    if (command === undefined) {
        if (inputs.host === undefined)
            return undefined;
        throw new errors/* ConfigurationError */.j1({
            input: 'release-command-host',
            problem: 'set, but release-command is not',
        });
    }
    const labels = inputs.hosts.map((host) => host.label);
    const host = inputs.host?.trim() ?? labels[0] ?? '';
    if (!labels.includes(host)) {
        throw new errors/* ConfigurationError */.j1({
            input: 'release-command-host',
            expected: `one of the hosts lines (${labels.join(', ')})`,
            got: host,
        });
    }
    return { command, timeoutSeconds: inputs.timeoutSeconds, host, onReturn: inputs.onReturn };
}
/** What a dry run says of the release command: where it would run, or why it would not. */
function plannedReleaseCommand(releaseCommand, releaseId, hosts) {
    if (!releaseCommand)
        return undefined;
    const base = {
        command: releaseCommand.command,
        host: releaseCommand.host,
        releaseId,
        timeoutSeconds: releaseCommand.timeoutSeconds,
    };
    const returning = hosts.filter((h) => h.wasCurrent).map((h) => h.host);
    return returning.length > 0 && !releaseCommand.onReturn
        ? { ...base, status: 'would-skip', reason: returnReason(releaseId, returning) }
        : { ...base, status: 'would-run' };
}
/** The dry run's log line about the release command. */
function describePlan(report) {
    const where = `on ${report.host} in releases/${report.releaseId}`;
    return report.status === 'would-run'
        ? `release command: would run ${JSON.stringify(commandLine(report.command))} ${where} (.env exported, timeout ${report.timeoutSeconds} s), once, after every host has ${report.releaseId} and before any switch`
        : `release command: would not run ${JSON.stringify(commandLine(report.command))}: ${report.reason ?? ''}`;
}
/** The host the release command runs on: the one `release-command-host` names. */
function runsOn(hosts, label) {
    const host = hosts.find((h) => h.label === label);
    if (!host)
        throw new Error(`the release command host ${label} is not among the hosts`);
    return host;
}
/** Why a release command is not run: the release was current before (a rollback). */
function returnReason(releaseId, returning) {
    return `${releaseId} was current before on ${returning.join(', ')}: a return to it, whose release command ran when it first went out`;
}
/**
 * The release phase of a deploy: runs the release command once, on its host, in the new release
 * with its `.env`, while every host holds the release and its lock and none has switched. A
 * return to a release that was current before skips it unless `onReturn`.
 */
function releasePhase(options) {
    const { command, log } = options;
    return async (staged) => {
        const on = runsOn(staged, options.host);
        const base = {
            command,
            host: on.label,
            releaseId: on.releaseId,
            timeoutSeconds: options.timeoutSeconds,
        };
        const returning = staged.filter((s) => s.wasCurrent).map((s) => s.label);
        if (returning.length > 0 && !options.onReturn) {
            const reason = returnReason(on.releaseId, returning);
            log.info(`Release command not run: ${reason} (release-command-on-rollback: true runs it)`);
            return { ...base, status: 'skipped', reason };
        }
        const title = `Release command on ${on.label} in releases/${on.releaseId}: ${commandLine(command)}`;
        return log.group(title, async () => {
            let run;
            // Its output shows as it comes: a long migration is watched, not waited for.
            const live = new LiveOutput(log);
            try {
                run = await on.runCommand(command, options.timeoutSeconds, live.write);
            }
            catch (error) {
                live.end();
                const reason = `the release command did not finish on ${on.label}: ${(0,errors/* formatError */.Wk)(error)}`;
                log.info(reason);
                const stopped = error instanceof Error ? error : new Error(String(error));
                return { ...base, status: 'failed', reason, error: stopped };
            }
            live.end();
            const ended = {
                ok: run.ok,
                code: run.code,
                timedOut: run.timedOut,
                output: run.output,
                seconds: run.seconds,
            };
            const how = describeEnd(ended, options.timeoutSeconds);
            log.info(`The release command ${how} (${ended.seconds.toFixed(1)} s)`);
            if (ended.ok)
                return { ...base, status: 'passed', run: ended };
            return {
                ...base,
                status: 'failed',
                run: ended,
                reason: `release command ${how} on ${on.label}`,
            };
        });
    };
}
function describeEnd(run, timeoutSeconds) {
    if (run.ok)
        return 'passed';
    if (run.timedOut)
        return `did not finish within ${timeoutSeconds} s`;
    return run.code !== null ? `failed (exit ${run.code})` : 'was stopped (no exit status)';
}
/** The one line a failed release command fails the step with: where, how, the tail. */
function releaseCommandError(report) {
    if (report.status !== 'failed')
        return undefined;
    const subject = `host ${report.host}`;
    if (report.error) {
        return new errors/* ConfigurationError */.j1({
            subject,
            problem: `the release command for ${report.releaseId} did not finish: ${(0,errors/* formatError */.Wk)(report.error)}; no host was switched`,
        });
    }
    const how = report.run ? describeEnd(report.run, report.timeoutSeconds) : 'failed';
    const tail = report.run?.output ? `; last output: ${(0,errors/* foldedTail */.J4)(report.run.output)}` : '';
    return new errors/* ConfigurationError */.j1({
        subject,
        problem: `the release command ${how} for ${report.releaseId}; no host was switched${tail}`,
    });
}

;// CONCATENATED MODULE: ./shared/fleet/host-logs.ts

/**
 * Groups for each host's log. One host at a time, a group is printed as it goes; several at
 * once, each host's lines are held and printed together when its work is done, so hosts do not
 * interleave. The printing never holds up the work; `printed()` waits for the last of it.
 */
function grouping(count, options) {
    const held = Array.from({ length: count }, () => heldLog(options.log));
    let printed = Promise.resolve();
    const group = async (index, title, work) => {
        if (options.parallel === 1)
            return options.log.group(title, () => work(options.log));
        const log = held[index];
        try {
            return await work(log);
        }
        finally {
            printed = printed.then(() => log.flush(title));
        }
    };
    return { group, printed: () => printed };
}

;// CONCATENATED MODULE: ./shared/fleet/rollout.ts



const UNKNOWN = { kind: 'unknown' };
function describeRuns(runs) {
    return runs.kind === 'release' ? runs.id : runs.kind === 'nothing' ? 'nothing' : 'not reached';
}
function runsOf(id) {
    return id === undefined ? { kind: 'nothing' } : { kind: 'release', id };
}
function asError(error) {
    return error instanceof Error ? error : new Error(String(error));
}
function newAttempt() {
    const attempt = { switched: false };
    const onPhase = (phase) => {
        if (phase === 'switch')
            attempt.switched = true;
    };
    return { attempt, onPhase };
}
function failedAttempt(attempt) {
    return (attempt?.error ?? attempt?.result?.failure) !== undefined;
}
/** Each host's attempt, by index; undefined for a host never started. */
function byHost(connections, settled) {
    // Map over the connections, since map skips the holes left by hosts never started.
    return connections.map((_, index) => {
        const attempt = settled[index];
        return attempt?.status === 'fulfilled' ? attempt.value : undefined;
    });
}
/**
 * Rolls a release across hosts, at most `parallel` at once. After the first failure no new host
 * is started; with `on-failure: rollback`, every host this step switched goes back to the release
 * it ran before, so the fleet does not stay split across two releases. With a release phase,
 * every host first takes the release (locked, not switched), then the phase runs, then the hosts
 * switch.
 */
async function rollout(connections, options) {
    const { group, printed } = grouping(connections.length, options);
    const { attempts, releaseCommand } = options.releasePhase
        ? await phased(connections, { ...options, group }, options.releasePhase)
        : { attempts: await rolling(connections, { ...options, group }), releaseCommand: undefined };
    const failed = attempts.some(failedAttempt);
    const putBack = failed && options.onFailure === 'rollback'
        ? await putBackSwitched(connections, attempts, { ...options, group })
        : new Map();
    const outcomes = connections.map((connection, index) => {
        const attempt = attempts[index];
        const host = connection.host.label;
        return attempt ? outcomeOf(host, attempt, putBack.get(index)) : notStarted(host);
    });
    await mapLimit(outcomes, options.parallel, async (outcome, index) => {
        if (outcome.after.kind !== 'unknown')
            return;
        const now = await readBack(connections[index], options);
        outcome.after = now;
        // A host the step never switched still runs what it ran before.
        if (!outcome.switched)
            outcome.before = now;
    });
    await printed();
    return { outcomes, releaseCommand };
}
/** What a host runs, read from it; when its connection dropped, connected again once to read. */
async function readBack(connection, options) {
    try {
        return runsOf(await options.current(connection));
    }
    catch {
        try {
            await connection.reconnect();
            return runsOf(await options.current(connection));
        }
        catch (error) {
            options.log.debug(`host ${connection.host.label}: not reached: ${asError(error).message}`);
            return UNKNOWN;
        }
    }
}
/** Runs `work` for an attempt, keeping what it throws as the attempt's error. */
async function rollout_settle(attempt, work) {
    try {
        await work();
    }
    catch (error) {
        attempt.error = asError(error);
    }
    return attempt;
}
/** `step` on each item, at most `parallel` at once; after the first failure none starts. */
function untilFailure(items, parallel, step) {
    let failed = false;
    return mapLimit(items, parallel, async (item) => {
        const attempt = await step(item);
        if (failedAttempt(attempt))
            failed = true;
        return attempt;
    }, () => !failed);
}
/** Each host staged and switched in one go, one after another. */
async function rolling(connections, options) {
    const settled = await untilFailure(connections, options.parallel, (connection) => {
        const { attempt, onPhase } = newAttempt();
        const index = connections.indexOf(connection);
        return options.group(index, options.title(connection.host.label), (log) => rollout_settle(attempt, async () => {
            attempt.result = await (await options.stage(connection, onPhase, log)).activate();
        }));
    });
    return byHost(connections, settled);
}
/**
 * Every host staged (locked, holding the release), then the release phase, then the switches:
 * the locks stay held from the first phase to each host's end.
 */
async function phased(connections, options, releasePhase) {
    const { parallel } = options;
    const staging = await untilFailure(connections, parallel, (connection) => {
        const { attempt, onPhase } = newAttempt();
        const index = connections.indexOf(connection);
        const title = `${options.title(connection.host.label)}: receive`;
        return options.group(index, title, (log) => rollout_settle(attempt, async () => {
            attempt.staged = await options.stage(connection, onPhase, log);
        }));
    });
    const attempts = byHost(connections, staging);
    const staged = attempts.flatMap((a) => (a?.staged ? [a] : []));
    if (attempts.some(failedAttempt)) {
        await letGo(staged, parallel, 'another-host');
        return { attempts };
    }
    let report;
    try {
        report = await releasePhase(staged.map((a) => a.staged));
    }
    catch (error) {
        await letGo(staged, parallel, 'release-command');
        throw error;
    }
    if (report.status === 'failed') {
        await letGo(staged, parallel, 'release-command', report.reason ?? 'failed');
        return { attempts, releaseCommand: report };
    }
    await untilFailure(staged, parallel, (attempt) => {
        const index = attempts.indexOf(attempt);
        const title = `${options.title(connections[index].host.label)}: switch`;
        return options.group(index, title, () => rollout_settle(attempt, async () => {
            attempt.result = await attempt.staged.activate();
        }));
    });
    const waiting = staged.filter((a) => !a.result && !a.error);
    await letGo(waiting, parallel, 'another-host');
    return { attempts, releaseCommand: report };
}
/** Unlocks staged hosts without switching them; a failed release command is recorded on each. */
async function letGo(attempts, parallel, why, releaseCommandFailure) {
    await mapLimit(attempts, parallel, async (attempt) => {
        attempt.heldBack = why;
        await attempt.staged?.abandon(releaseCommandFailure);
    });
}
async function putBackSwitched(connections, attempts, options) {
    const switched = attempts.flatMap((attempt, index) => {
        const result = attempt?.result;
        const moved = result !== undefined &&
            result.failure === undefined &&
            result.previousId !== undefined &&
            result.previousId !== result.releaseId;
        return moved ? [{ index, to: result.previousId }] : [];
    });
    if (switched.length > 0) {
        const which = switched.map((s) => `${connections[s.index].host.label} back on ${s.to}`);
        // The failure is the step's one annotation; this is a line of the log.
        options.log.info(`Another host failed: putting ${which.join(', ')}`);
    }
    const done = new Map();
    await mapLimit(switched, options.parallel, async ({ index, to }) => {
        const connection = connections[index];
        const title = `${connection.host.label}: put back on ${to}`;
        const back = await options
            .group(index, title, (log) => options.putBack(connection, to, log))
            .then((result) => ({ result }), (error) => ({ error: asError(error) }));
        done.set(index, back);
    });
    return done;
}
function notStarted(host) {
    return {
        host,
        reached: false,
        switched: false,
        before: UNKNOWN,
        after: UNKNOWN,
        healthy: undefined,
        failure: undefined,
    };
}
/** Whether what a finished deploy or rollback left current came up. */
function healthOf(result) {
    if (result.result === 'failed')
        return undefined;
    if (result.result === 'failed-rolled-back')
        return result.failure?.switchBackProblem === undefined;
    return true;
}
function failureOf(result) {
    return result?.failure ? new errors/* ConfigurationError */.j1(result.failure.problem) : undefined;
}
function outcomeOf(host, attempt, back) {
    const { result, error } = attempt;
    const common = { host, reached: true, switched: attempt.switched };
    if (attempt.heldBack && attempt.staged) {
        const runs = runsOf(attempt.staged.current);
        const { heldBack } = attempt;
        return {
            ...common,
            before: runs,
            after: runs,
            healthy: undefined,
            failure: undefined,
            heldBack,
        };
    }
    if (!result) {
        return {
            ...common,
            before: UNKNOWN,
            after: UNKNOWN,
            healthy: undefined,
            failure: error,
            error,
        };
    }
    const before = runsOf(result.previousId);
    if (back === undefined) {
        const after = runsOf(result.currentId);
        return {
            ...common,
            before,
            after,
            healthy: healthOf(result),
            failure: failureOf(result),
            result,
        };
    }
    if ('error' in back) {
        const { error: putBackError } = back;
        const failure = putBackError;
        return { ...common, before, after: UNKNOWN, healthy: undefined, failure, result, putBackError };
    }
    const putBack = back.result;
    const after = runsOf(putBack.currentId);
    const failure = failureOf(putBack);
    return { ...common, before, after, healthy: healthOf(putBack), failure, result, putBack };
}

;// CONCATENATED MODULE: ./shared/fleet/result.ts



function key(runs) {
    return runs.kind === 'release' ? `release ${runs.id}` : runs.kind;
}
/** The one thing every host runs, when they all run the same known thing. */
function common(all) {
    const first = all[0];
    if (!first || first.kind === 'unknown')
        return undefined;
    return all.every((runs) => key(runs) === key(first)) ? first : undefined;
}
function list(hosts, name) {
    return hosts.map(name).join(', ');
}
function be(count) {
    return count === 1 ? 'is' : 'are';
}
/** What hosts on `id` do, in words: "run v2", or "are back on v1" when the step moved them. */
function stands(hosts, id, step) {
    const back = id !== step.releaseId && hosts.some((o) => o.switched);
    return back
        ? `${be(hosts.length)} back on ${id}`
        : `${hosts.length === 1 ? 'runs' : 'run'} ${id}`;
}
/**
 * Where one release stands on the hosts that run it: who is down on it, who runs it fine.
 * `subject` names all of them ("the hosts", "`web-1`").
 */
function onRelease(outcomes, id, context) {
    const { step, subject, name } = context;
    const down = outcomes.filter((o) => o.healthy === false).map((o) => o.host);
    if (down.length === 0)
        return `${subject} ${stands(outcomes, id, step)}`;
    const came = id === step.releaseId ? `${id} did not come up` : `back on ${id}, which did not come up either`;
    if (down.length === outcomes.length)
        return `${subject} ${be(outcomes.length)} down: ${came}`;
    const others = outcomes.filter((o) => o.healthy !== false);
    return `${list(down, name)} ${be(down.length)} down (${came}); the other${others.length === 1 ? '' : 's'} ${stands(others, id, step)}`;
}
/** The known hosts, by what they run: each release once, in the order the hosts come. */
function byRelease(outcomes) {
    const groups = new Map();
    for (const outcome of outcomes) {
        if (outcome.after.kind === 'unknown')
            continue;
        const k = key(outcome.after);
        groups.set(k, [...(groups.get(k) ?? []), outcome]);
    }
    return groups;
}
/** The hosts that could not be read after the step, and what the step did to them. */
function notReached(outcomes, step, name) {
    const lost = outcomes.filter((o) => o.after.kind === 'unknown');
    if (lost.length === 0)
        return undefined;
    const switched = lost.filter((o) => o.switched).map((o) => o.host);
    const unchanged = lost.filter((o) => !o.switched).map((o) => o.host);
    const parts = [];
    if (switched.length > 0) {
        parts.push(`${list(switched, name)} not reached after switching to ${step.releaseId}: what ${switched.length === 1 ? 'it runs' : 'they run'} is not known`);
    }
    if (unchanged.length > 0) {
        parts.push(`${list(unchanged, name)} not reached (not changed by this step)`);
    }
    return parts.join('; ');
}
/** What runs where after the step, in words: the truth a person acts on. */
function whereTheHostsStand(outcomes, step, name = (host) => host) {
    const changed = outcomes.some((o) => o.switched);
    const groups = byRelease(outcomes);
    const lost = notReached(outcomes, step, name);
    const known = [...groups.values()].flat();
    const subject = known.length === 1
        ? name(known[0].host)
        : lost !== undefined
            ? 'the other hosts'
            : 'the hosts';
    let state;
    if (groups.size === 1) {
        const first = known[0].after;
        state =
            first.kind === 'release'
                ? onRelease(known, first.id, { step, subject, name })
                : `nothing is current${lost !== undefined || known.length === 1
                    ? ` on ${list(known.map((o) => o.host), name)}`
                    : ''}`;
    }
    else if (groups.size > 1) {
        const parts = [...groups.values()].flatMap((hosts) => {
            const runs = describeRuns(hosts[0].after);
            const down = hosts.filter((o) => o.healthy === false).map((o) => o.host);
            const up = hosts.filter((o) => o.healthy !== false).map((o) => o.host);
            return [
                ...(up.length ? [`${list(up, name)} on ${runs}`] : []),
                ...(down.length ? [`${list(down, name)} on ${runs} (down: it did not come up)`] : []),
            ];
        });
        state = `the hosts are split: ${parts.join('; ')}`;
    }
    const where = [state, lost].filter((part) => part !== undefined).join('; ');
    if (changed)
        return where;
    return where === '' ? 'nothing changed' : `nothing changed: ${where}`;
}
/**
 * The step's error line: what runs where first, then why, each failed host's own line (or the
 * release command's, which stops the step before any host can fail on its own).
 */
function failureLine(outcomes, step, where) {
    const doing = step.rollback ? `Rolling back to ${step.releaseId}` : `Deploying ${step.releaseId}`;
    if (step.commandFailure) {
        return new errors/* ConfigurationError */.j1({
            problem: `${doing} failed in the release command, ${where}: ${(0,errors/* formatError */.Wk)(step.commandFailure)}`,
        });
    }
    const failed = outcomes.filter((o) => o.failure !== undefined);
    const hosts = failed.map((o) => o.host).join(', ');
    const reasons = failed.map((o) => (0,errors/* formatError */.Wk)(o.failure)).join('; ');
    return new errors/* ConfigurationError */.j1({ problem: `${doing} failed on ${hosts}, ${where}: ${reasons}` });
}
/**
 * Decides what a rollout comes to: what the fleet runs, whether it is split, whether the step
 * failed, and the lines that say so. Pure: it reads only the hosts' outcomes.
 */
function fleetResult(outcomes, step) {
    const commandFailure = step.releaseCommand && releaseCommandError(step.releaseCommand);
    const afters = outcomes.map((o) => o.after);
    const known = new Set(afters.filter((runs) => runs.kind !== 'unknown').map(key));
    const failed = commandFailure !== undefined || outcomes.some((o) => o.failure !== undefined);
    const all = common(afters);
    const before = common(outcomes.map((o) => o.before));
    const count = `${outcomes.length} host${outcomes.length === 1 ? '' : 's'}`;
    const done = step.rollback ? `rolled back on ${count}` : `deployed to ${count}`;
    const plain = whereTheHostsStand(outcomes, step);
    const markdown = whereTheHostsStand(outcomes, step, (host) => `\`${host}\``);
    const how = `failed${commandFailure ? ' in the release command' : ''}`;
    return {
        release: all?.kind === 'release' ? all.id : undefined,
        before: before?.kind === 'release' ? before.id : undefined,
        split: known.size > 1,
        failed,
        changed: outcomes.some((o) => o.switched),
        rolledBack: outcomes.some((o) => o.putBack !== undefined || o.result?.result === 'failed-rolled-back'),
        headline: failed ? `${how}, ${plain}` : done,
        headlineMarkdown: failed ? `${how}, ${markdown}` : done,
        failure: failed ? failureLine(outcomes, { ...step, commandFailure }, plain) : undefined,
    };
}

;// CONCATENATED MODULE: ./shared/fleet/report.ts
/** The verified release as the summaries show it. */
function releaseFacts(app, verified) {
    return {
        app,
        environment: verified.manifest.environment,
        releaseId: verified.manifest.id,
        releaseUrl: verified.entry.url,
        manifest: verified.manifest,
        manifestDigest: verified.digest,
        signer: verified.signer.principal,
    };
}
/**
 * How to go back after a step that moved every host: the repository's rollback workflow (the
 * one examples/workflows/rollback.yml gives) and its `gh` line. None after a failure.
 */
function rollbackHint(where, fleet, releaseId) {
    if (fleet.failed || fleet.before === undefined || fleet.before === releaseId)
        return undefined;
    const repository = `${where.owner}/${where.repo}`;
    return {
        repository,
        workflowUrl: `${where.serverUrl}/${repository}/actions/workflows/rollback.yml`,
        environment: where.environment,
        to: fleet.before,
    };
}
/**
 * The `host-releases` output, JSON: what each host runs after the step (`release`, null when
 * nothing is current) and whether it came up (`healthy`, when this step checked), or
 * `reached: false` when the host could not be read.
 */
function hostReleases(outcomes) {
    const hosts = {};
    for (const { host, after, healthy } of outcomes) {
        hosts[host] =
            after.kind === 'unknown'
                ? { reached: false }
                : {
                    release: after.kind === 'release' ? after.id : null,
                    ...(healthy !== undefined ? { healthy } : {}),
                };
    }
    return JSON.stringify(hosts);
}

;// CONCATENATED MODULE: ./shared/fleet/summary.ts




/** An error as one line without the host it names: the row already says which host. */
function withoutHost(error) {
    if (!(error instanceof errors/* ConfigurationError */.j1))
        return (0,markdown/* markdownText */.p7)((0,errors/* formatError */.Wk)(error));
    const { subject, ...rest } = error.problem;
    return (0,markdown/* markdownText */.p7)((0,errors/* formatError */.Wk)(subject?.startsWith('host ') ? new errors/* ConfigurationError */.j1(rest) : error));
}
function resultText(outcome) {
    if (!outcome.reached)
        return 'not started (an earlier host failed)';
    if (outcome.heldBack === 'release-command')
        return 'not switched: the release command failed';
    if (outcome.heldBack === 'another-host')
        return 'not switched (another host failed)';
    if (outcome.error !== undefined)
        return `✗ ${withoutHost(outcome.error)}`;
    const result = outcome.result;
    if (!result)
        return '?';
    const failed = (failed) => {
        const failure = failed.failure;
        if (!failure)
            return 'failed';
        const where = failed.currentId === undefined
            ? 'nothing is current'
            : `back on ${failed.currentId}${failure.switchBackProblem ? ', which did not come up either' : ''}`;
        return `${failed.releaseId}: ${(0,markdown/* markdownText */.p7)(failure.what)}; ${where}`;
    };
    const base = result.result === 'activated'
        ? `✓ ${result.releaseId} activated${result.skippedUpload ? ' (already on the host)' : ''}`
        : result.result === 'rolled-back'
            ? `✓ rolled back to ${result.releaseId}`
            : `✗ ${failed(result)}`;
    const pruned = result.pruned.length ? `; pruned ${result.pruned.join(', ')}` : '';
    if (outcome.putBack) {
        const back = outcome.putBack;
        return `${base}; put back on ${back.currentId ?? 'nothing'}${back.failure ? ` (${failed(back)})` : ''}`;
    }
    if (outcome.putBackError) {
        return `${base}; putting it back failed: ${withoutHost(outcome.putBackError)}`;
    }
    return `${base}${pruned}`;
}
/** What a host runs now, and whether it came up. */
function runsText(outcome) {
    const runs = describeRuns(outcome.after);
    return outcome.healthy === false ? `${runs} ✗ down` : runs;
}
function hostRows(outcomes) {
    return outcomes.map((outcome) => {
        const { result } = outcome;
        const seconds = (result?.seconds ?? 0) + (outcome.putBack?.seconds ?? 0);
        const sent = (result?.bytesSent ?? 0) + (outcome.putBack?.bytesSent ?? 0);
        return [
            (0,markdown/* code */.aY)(outcome.host),
            resultText(outcome),
            runsText(outcome),
            outcome.before.kind === 'unknown' ? '–' : describeRuns(outcome.before),
            result ? `${(0,markdown/* formatSeconds */.Xo)(seconds * 1000)}, ${(0,markdown/* formatBytes */.z3)(sent)}` : '–',
        ];
    });
}
const STEP_WORDS = {
    restart: 'restart',
    'health-check': 'health check',
};
/** The last lines each failing command printed, one block per command. */
function outputTails(outcomes) {
    const block = (host, what, output) => output ? ['', `${(0,markdown/* code */.aY)(host)}, the last output of ${what}:`, '', (0,markdown/* codeBlock */.DV)(output)] : [];
    return outcomes.flatMap((outcome) => [outcome.result, outcome.putBack].flatMap((result) => {
        const failure = result?.failure;
        if (!result || !failure)
            return [];
        const fallback = result.currentId ?? 'the release gone back to';
        return [
            ...block(outcome.host, `the ${STEP_WORDS[failure.step]} of ${result.releaseId}`, failure.output),
            ...block(outcome.host, `bringing ${fallback} back up`, failure.switchBackOutput),
        ];
    }));
}
/** How to go back: the rollback workflow, and the `gh` line that starts it. */
function rollbackSection(hint) {
    if (hint === undefined)
        return [];
    const command = `gh workflow run rollback.yml --repo ${hint.repository} -f environment=${hint.environment} -f release-id=${hint.to}`;
    return [
        '',
        '#### Roll back',
        '',
        `To go back to ${hint.to}, run the [rollback workflow](${hint.workflowUrl}) with environment ${(0,markdown/* code */.aY)(hint.environment)} and release-id ${(0,markdown/* code */.aY)(hint.to)}, or from a terminal:`,
        '',
        (0,markdown/* codeBlock */.DV)(command, 'sh'),
        '',
        `Or run this step again with ${(0,markdown/* code */.aY)(`release-id: ${hint.to}`)}.`,
    ];
}
function releaseTable(report) {
    const { manifest } = report;
    const names = [
        ...Object.keys(manifest.config.vars),
        ...(manifest.config.secrets?.names ?? []),
    ].sort();
    const rows = [
        [
            'Release',
            `[${report.releaseId}](${report.releaseUrl}) of ${report.app} / ${report.environment}`,
        ],
        [
            'Build',
            `${(0,markdown/* code */.aY)(manifest.build.sha)} · ${(0,markdown/* code */.aY)(manifest.build.digest)} · ${(0,markdown/* formatBytes */.z3)(manifest.build.size)}`,
        ],
        ['Changes', manifest.changes ? (0,markdown/* markdownText */.p7)(manifest.changes) : '–'],
        ['Manifest', `${(0,markdown/* code */.aY)(report.manifestDigest)}, signed by ${(0,markdown/* code */.aY)(report.signer)}`],
        [
            'Config',
            `${Object.keys(manifest.config.vars).length} vars, ${manifest.config.secrets?.names.length ?? 0} secrets (names: ${names.map(markdown/* code */.aY).join(', ') || 'none'})`,
        ],
    ];
    if (report.deploymentId !== undefined) {
        rows.push([
            'GitHub Deployment',
            `${report.deploymentId}${report.url ? ` · ${report.url}` : ''}`,
        ]);
    }
    else if (report.url)
        rows.push(['URL', report.url]);
    return (0,markdown/* factsTable */.wd)(rows);
}
/** The job summary of a deploy or rollback: what runs where now, why it failed, how to go back. */
function runSummary(report) {
    return [
        `### ${report.rollback ? 'Rollback' : 'Deploy'} ${report.app} ${report.environment} ${report.releaseId}: ${report.fleet.headlineMarkdown}`,
        '',
        releaseTable(report),
        '',
        (0,markdown/* markdownTable */.Qj)(['Host', 'Result', 'Runs now', 'Before', 'Time, sent'], hostRows(report.outcomes)),
        ...releaseCommandSection(report.releaseCommand),
        ...outputTails(report.outcomes),
        ...rollbackSection(report.hint),
        '',
    ].join('\n');
}
/** Where the release command ran (or would), how it ended, and the tail of what it printed. */
function releaseCommandSection(report) {
    if (!report)
        return [];
    const where = `${(0,markdown/* code */.aY)(commandLine(report.command))} on ${(0,markdown/* code */.aY)(report.host)} in ${(0,markdown/* code */.aY)(`releases/${report.releaseId}`)}`;
    const took = report.run ? ` in ${(0,markdown/* formatSeconds */.Xo)(report.run.seconds * 1000)}` : '';
    const line = {
        passed: `✓ ${where} passed${took}`,
        failed: `✗ ${where}: ${report.reason ?? 'failed'}${took}; no host was switched`,
        skipped: `Not run: ${report.reason ?? ''}. \`release-command-on-rollback: true\` runs it.`,
        'would-run': `Would run ${where}, once, after every host has the release and before any switch.`,
        'would-skip': `Would not run ${where}: ${report.reason ?? ''}.`,
    }[report.status];
    const output = report.run?.output ? ['', (0,markdown/* codeBlock */.DV)(report.run.output)] : [];
    return ['', '#### Release command', '', line, ...output];
}
/** The job summary of a dry run: what each host would get. */
function dryRunSummary(report) {
    const rows = report.hosts.map((host) => [
        (0,markdown/* code */.aY)(host.host),
        host.upload === 'skip'
            ? 'already there: no upload'
            : host.upload === 'replace'
                ? 'replace a different copy'
                : `upload ${(0,markdown/* formatBytes */.z3)(report.manifest.build.size)} (compressed)`,
        `${host.current ?? 'nothing'} → ${host.releaseId}`,
        host.prune.join(', '),
        (0,markdown/* markdownText */.p7)(host.problems.join('; ')),
    ]);
    return [
        `### Dry run: ${report.app} ${report.environment} ${report.releaseId}, nothing changed`,
        '',
        releaseTable(report),
        '',
        (0,markdown/* markdownTable */.Qj)(['Host', 'Upload', 'Switch', 'Would prune', 'Problems'], rows),
        ...releaseCommandSection(report.releaseCommand),
        '',
    ].join('\n');
}
/** The job summary of a teardown: each host's result, and what GitHub's record says now. */
function destroySummary(options) {
    const rows = options.hosts.map((h) => [
        (0,markdown/* code */.aY)(h.host),
        h.error !== undefined
            ? `✗ ${(0,markdown/* markdownText */.p7)((0,errors/* formatError */.Wk)(h.error))}`
            : h.removed
                ? `✓ removed${h.stopped ? ' (stopped first)' : ''}`
                : 'nothing there',
    ]);
    const lines = [
        `### Destroy ${options.app} ${options.environment}`,
        '',
        `Deploy root ${(0,markdown/* code */.aY)(options.root)} on each host:`,
        '',
        (0,markdown/* markdownTable */.Qj)(['Host', 'Result'], rows),
        '',
    ];
    if (options.deactivated !== undefined) {
        lines.push(`GitHub Deployments marked inactive: ${options.deactivated}`, '');
    }
    if (options.deletedReleases !== undefined) {
        lines.push(`Releases deleted: ${options.deletedReleases.length ? options.deletedReleases.map(markdown/* code */.aY).join(', ') : 'none'}`, '');
    }
    return lines.join('\n');
}

;// CONCATENATED MODULE: ./shared/host/scripts/command.ts


/**
 * Reads a `.env` as shared/dotenv.ts writes it and prints one `export NAME='value'` line per
 * variable, quoted for sh. Sourcing the file itself would run what a value holds: its
 * double-quoted and bare forms are literal to systemd and dotenv, not to sh. The forms:
 * 'value' and "value" (may span lines, never hold their own quote), or a bare one-line value.
 */
const ENV_EXPORTS = String.raw `
function shq(s,    out, i) {
  out = ""
  while ((i = index(s, "'")) > 0) { out = out substr(s, 1, i - 1) "'\\''"; s = substr(s, i + 1) }
  return "'" out s "'"
}
function emit() { printf "export %s=%s\n", name, shq(value) }
quote != "" {
  i = index($0, quote)
  if (i == 0) { value = value "\n" $0; next }
  value = value "\n" substr($0, 1, i - 1); emit(); quote = ""; next
}
{
  eq = index($0, "=")
  if (eq == 0) next
  name = substr($0, 1, eq - 1)
  if (name !~ /^[A-Za-z_][A-Za-z0-9_]*$/) next
  rest = substr($0, eq + 1)
  first = substr(rest, 1, 1)
  if (first == "'" || first == "\"") {
    rest = substr(rest, 2)
    i = index(rest, first)
    if (i == 0) { quote = first; value = rest; next }
    value = substr(rest, 1, i - 1); emit(); next
  }
  value = rest; emit()
}
`;
/**
 * The pids of a process and its descendants, children first: `ps` is POSIX, process groups in a
 * non-interactive sh are not (job control needs a terminal).
 */
const TREE = `tree() { for c in $(ps -A -o pid= -o ppid= 2>/dev/null | awk -v p="$1" '$2 == p { print $1 }'); do tree "$c"; done; echo "$1"; }`;
/**
 * A user's command (release command, restart, health check, stop) in a release directory with the
 * release's `.env` exported, values never passing through a command line. Output is merged so its
 * tail reads in order; stdin is closed so a command cannot swallow anything. After
 * `timeoutSeconds` the host stops it and what it started (TERM, then KILL), and the script exits
 * with EXIT.timedOut: a dropped SSH channel alone would leave it running.
 */
function commandScript(root, id, command, timeoutSeconds) {
    const release = (0,shared_names/* shellQuote */.ZL)(`releases/${id}`);
    const enter = [
        `cd ${release} || ${(0,scripts_root/* fail */.fJ)(scripts_root/* EXIT */.dc.missing, `releases/${id} is missing`)}`,
        `if [ -f .env ]; then exports=$(awk ${(0,shared_names/* shellQuote */.ZL)(ENV_EXPORTS)} .env) && eval "$exports" || exit 1; unset exports; fi`,
    ];
    if (timeoutSeconds === undefined) {
        return (0,scripts_root/* inRoot */.md)(root, [...enter, `exec /bin/sh -c ${(0,shared_names/* shellQuote */.ZL)(command)} < /dev/null 2>&1`]);
    }
    const seconds = Math.max(1, Math.ceil(timeoutSeconds));
    return (0,scripts_root/* inRoot */.md)(root, [
        ...enter,
        TREE,
        // The watchdog tells this shell it fired; a trapped signal ends `wait` early, so wait again.
        `expired=; trap 'expired=1' USR1`,
        `/bin/sh -c ${(0,shared_names/* shellQuote */.ZL)(command)} < /dev/null 2>&1 &`,
        `command=$!`,
        `{ sleep ${seconds}; kill -USR1 $$; kill -TERM $(tree "$command") 2>/dev/null; sleep 2; kill -KILL $(tree "$command") 2>/dev/null; } < /dev/null > /dev/null 2>&1 &`,
        `watchdog=$!`,
        `wait "$command"; status=$?`,
        `while kill -0 "$command" 2>/dev/null; do wait "$command"; status=$?; done`,
        `[ -z "$expired" ] || exit ${scripts_root/* EXIT */.dc.timedOut}`,
        // The watchdog and its sleep, with KILL: a shell started with TERM ignored (as some callers
        // start it) can neither trap nor receive it, and its watchdog would outlive the script.
        `watched=$(tree "$watchdog")`,
        `kill -KILL "$watchdog" $watched 2>/dev/null`,
        `exit "$status"`,
    ]);
}

;// CONCATENATED MODULE: ./shared/host/activate.ts









/** How long a restart may take before it counts as failed. */
const RESTART_TIMEOUT_SECONDS = 600;
/** A deploy's or rollback's result, from its activation and what the step did around it. */
function hostResult(session, activation, step) {
    return {
        host: session.label,
        ...step,
        result: activation.result,
        currentId: activation.currentId,
        bytesSent: session.sent,
        seconds: (Date.now() - session.started - session.waitedMs) / 1000,
        ...(activation.failure ? { failure: activation.failure } : {}),
    };
}
/**
 * Makes `id` current, restarts, checks health; on failure puts `fallback` back and brings it up
 * the same way or, with nothing to go back to, leaves nothing current.
 */
async function activate(options) {
    const { session, id } = options;
    const stamp = () => ({
        time: new Date().toISOString(),
        by: options.by,
        ...(options.run ? { run: options.run } : {}),
    });
    const digest = options.digest ? { digest: options.digest } : {};
    session.phase('switch');
    await switchTo(options, id);
    session.log.info(`host ${session.label}: current -> ${id}`);
    const trouble = await bringUp(session, id, options.commands, (phase) => session.phase(phase));
    if (!trouble) {
        const from = options.from ? { from: options.from } : {};
        const event = { event: options.kind, release: id, ...digest, ...from, ...stamp() };
        return { result: options.kind, currentId: id, events: [event] };
    }
    session.phase('switch-back');
    const failed = {
        event: 'failed',
        release: id,
        ...digest,
        reason: trouble.what,
        ...stamp(),
    };
    const back = await switchBack(options);
    const events = [failed];
    if (back.to !== undefined) {
        events.push({
            event: 'rolled-back',
            release: back.to,
            from: id,
            reason: trouble.what,
            ...stamp(),
        });
    }
    const failure = hostFailure(options, trouble, back);
    // The step's error line reports it once; here it is one line of the host's log.
    session.log.info(failure.message);
    return {
        result: back.to !== undefined ? 'failed-rolled-back' : 'failed',
        currentId: back.to,
        events,
        failure,
    };
}
function switchTo(options, id) {
    const { session } = options;
    const suffix = (0,external_node_crypto_.randomBytes)(6).toString('hex');
    const what = id === options.id ? `switching current to ${id}` : `switching current back to ${id}`;
    return session.must(what, switchScript(session.root, id, suffix, options.token));
}
/** Puts the fallback back and brings it up, or leaves nothing current when there is none. */
async function switchBack(options) {
    const { session, fallback } = options;
    if (fallback === undefined) {
        await session.must('unsetting current', unsetCurrentScript(session.root));
        session.log.info(`host ${session.label}: nothing was current before: nothing is current now`);
        return { to: undefined };
    }
    await switchTo(options, fallback);
    session.log.info(`host ${session.label}: current -> ${fallback} (switched back)`);
    const trouble = await bringUp(session, fallback, options.commands);
    if (!trouble)
        return { to: fallback };
    const output = (0,errors/* foldedTail */.J4)(trouble.output, 200);
    return {
        to: fallback,
        problem: trouble.step === 'restart'
            ? `restarting ${fallback} failed too: ${output}`
            : `${fallback} is not healthy either: ${output}`,
        output: trouble.output,
    };
}
function hostFailure(options, trouble, back) {
    const where = back.to === undefined
        ? 'nothing was current before, so nothing is current now'
        : back.problem
            ? `switched back to ${back.to}, which did not come up either: ${back.problem}`
            : `switched back to ${back.to}${options.commands.restart !== undefined ? ' and restarted it' : ''}`;
    const tail = trouble.output ? `; last output: ${(0,errors/* foldedTail */.J4)(trouble.output)}` : '';
    const error = options.session.error({
        problem: `${options.id}: ${trouble.what}; ${where}${tail}`,
    });
    return {
        step: trouble.step,
        what: trouble.what,
        problem: error.problem,
        message: error.message,
        output: trouble.output,
        ...(back.problem ? { switchBackProblem: back.problem } : {}),
        ...(back.output ? { switchBackOutput: back.output } : {}),
    };
}
/**
 * Restarts a release that was just made current, then checks its health until it passes or the
 * health timeout runs out: the one sequence for a new release and for the one gone back to. The
 * commands' output goes to the log as it comes.
 */
async function bringUp(session, id, commands, onPhase) {
    const { log, label } = session;
    if (commands.restart !== undefined) {
        onPhase?.('restart');
        log.info(`host ${label}: restart ${id}: ${commands.restart}`);
        const live = new LiveOutput(log);
        const restart = await execInRelease(session, id, commands.restart, {
            timeoutSeconds: RESTART_TIMEOUT_SECONDS,
            onOutput: live.write,
        });
        live.end();
        if (!restart.ok) {
            const what = restart.timedOut ? 'restart did not finish in time' : 'restart failed';
            log.info(`host ${label}: ${what}`);
            return { step: 'restart', what, output: restart.output };
        }
    }
    if (commands.healthCheck !== undefined) {
        onPhase?.('health-check');
        log.info(`host ${label}: health check ${id}: ${commands.healthCheck}`);
        const health = await healthCheck(session, id, commands);
        const attempts = `${health.attempts} attempt${health.attempts === 1 ? '' : 's'}`;
        if (!health.ok) {
            const what = `health check failed for ${health.seconds} s (${health.attempts} attempts)`;
            log.info(`host ${label}: ${what}`);
            return { step: 'health-check', what, output: health.output };
        }
        log.info(`host ${label}: ${id} is healthy (${attempts}, ${health.seconds} s)`);
    }
    return undefined;
}
/** Runs a user's command in a release until it exits or time runs out. */
async function execInRelease(session, id, command, options) {
    const started = Date.now();
    const { timeoutSeconds } = options;
    // The host stops the command at its time (TERM, then KILL 2 s later); this is for a host that
    // does not answer at all.
    const signal = AbortSignal.timeout((Math.ceil(Math.max(1, timeoutSeconds)) + 10) * 1000);
    const script = commandScript(session.root, id, command, timeoutSeconds);
    const result = await session.exec(script, {
        signal,
        ...(options.onOutput ? { onOutput: options.onOutput } : {}),
    });
    const fullOutput = Buffer.concat([result.stdout, result.stderr]);
    const timedOut = result.code === scripts_root/* EXIT */.dc.timedOut || (signal.aborted && result.code === null);
    return {
        ok: result.code === 0,
        code: timedOut ? null : result.code,
        timedOut,
        output: outputTail(fullOutput),
        fullOutput,
        seconds: (Date.now() - started) / 1000,
    };
}
/**
 * Retries the health check until it passes or time runs out. The first attempt's output shows
 * as it comes; a later one's shows when it says something the one before did not, so a check
 * that fails the same way a hundred times is one block in the log, not a hundred.
 */
async function healthCheck(session, id, commands) {
    const command = commands.healthCheck ?? 'true';
    const interval = (commands.healthIntervalSeconds ?? 1) * 1000;
    const started = Date.now();
    const deadline = started + commands.healthTimeoutSeconds * 1000;
    let shown;
    for (let attempts = 1;; attempts++) {
        const remaining = Math.max(1, (deadline - Date.now()) / 1000);
        const live = attempts === 1 ? new LiveOutput(session.log) : undefined;
        const result = await execInRelease(session, id, command, {
            timeoutSeconds: remaining,
            ...(live ? { onOutput: live.write } : {}),
        });
        live?.end();
        const output = result.timedOut
            ? `${result.output}\n(no answer within the health timeout)`.trim()
            : result.output;
        if (attempts > 1 && output !== shown && output !== '') {
            session.log.info(`host ${session.label}: health check attempt ${attempts}:`);
            logOutput(session.log, output);
        }
        shown = output;
        const seconds = Math.round((Date.now() - started) / 1000);
        if (result.ok || Date.now() + interval >= deadline) {
            return { ok: result.ok, output, attempts, seconds };
        }
        await (0,promises_.setTimeout)(interval);
    }
}
/** The last lines of a command's output, at most `chars` characters. */
function outputTail(output, lines = 20, chars = 2000) {
    const text = output.toString('utf8').replace(/\s+$/, '');
    const tail = text.split('\n').slice(-lines).join('\n');
    return tail.length > chars ? `…${tail.slice(-chars)}` : tail;
}
/** Appends the events of an activation to the host's history. */
async function activate_record(session, events) {
    session.phase('record');
    await session.must('recording the history', (0,scripts_root/* appendHistoryScript */._m)(session.root, events.map(historyLine)));
}

;// CONCATENATED MODULE: ./shared/host/destroy.ts





/** How long a stop command may take before the teardown gives up, removing nothing. */
const STOP_TIMEOUT_SECONDS = 120;
/**
 * Tears a host's deploy down (a closed pull request's preview): stops the app with `stopCommand`
 * in the current release, then removes the deploy root. A failed stop leaves everything in place.
 */
async function destroyHost(transport, options) {
    const session = new HostSession(transport, options);
    const { root } = session;
    session.phase('inspect');
    const snapshot = await session.inspect();
    if (!snapshot.exists)
        return { host: transport.label, removed: false, stopped: false };
    // Checked before the lock, whose directory would make any directory look like a deploy root.
    if (!snapshot.deployRoot) {
        throw session.error({
            input: 'path',
            problem: `${root} does not look like a deploy root (no .deploy or releases inside)`,
            hint: 'not removing it',
        });
    }
    return session.withLock(options.lock, undefined, async () => {
        let stopped = false;
        if (options.stopCommand !== undefined && snapshot.current !== undefined) {
            session.log.info(`host ${session.label}: stop ${snapshot.current}: ${options.stopCommand}`);
            const live = new LiveOutput(session.log);
            const stop = await execInRelease(session, snapshot.current, options.stopCommand, {
                timeoutSeconds: STOP_TIMEOUT_SECONDS,
                onOutput: live.write,
            });
            live.end();
            if (!stop.ok) {
                const output = stop.output ? `; last output: ${(0,errors/* foldedTail */.J4)(stop.output)}` : '';
                throw session.error({
                    problem: `stop command failed in ${snapshot.current}; nothing removed${output}`,
                });
            }
            stopped = true;
        }
        await session.must(`removing ${root}`, (0,scripts_root/* destroyScript */.kM)(root));
        return { host: transport.label, removed: true, stopped };
    });
}

;// CONCATENATED MODULE: ./shared/fleet/teardown.ts





/**
 * Tears an environment down (a closed pull request's preview): on every host the stop command in
 * its current release, then its deploy root. GitHub's record follows the hosts: Deployments are
 * marked inactive and releases deleted only once every host is torn down.
 */
async function teardown(fleet, options) {
    const hosts = await destroyOnHosts(fleet, options);
    for (const host of hosts) {
        if (host.error === undefined) {
            const what = host.removed ? `removed ${options.root}` : 'nothing to remove';
            options.log.info(`host ${host.host}: ${what}`);
        }
    }
    const failed = hosts.flatMap((host) => (host.error ? [host.error] : []));
    const whole = failed.length === 0;
    const deactivated = whole && options.deployments
        ? await deactivateDeployments(options.deployments, options.environment)
        : undefined;
    const deletedReleases = whole && options.releases
        ? await deleteLedger(options.releases.github, options.releases.scope, options.log)
        : undefined;
    const failure = failed.length === 0
        ? undefined
        : failed.length === 1 && hosts.length === 1
            ? failed[0]
            : new errors/* ConfigurationError */.j1({
                problem: `${failed.length} of ${hosts.length} hosts were not torn down: ${failed.map(errors/* formatError */.Wk).join('; ')}`,
            });
    return { hosts, deactivated, deletedReleases, failure };
}
/** Every host is tried; each one's failure is kept, one line each. */
async function destroyOnHosts(fleet, options) {
    const connections = await fleet.connections();
    const settled = await mapLimit(connections, options.parallel, (connection) => destroyHost(connection.transport, {
        root: options.root,
        lock: options.lock,
        log: options.log,
        ...(options.stopCommand !== undefined ? { stopCommand: options.stopCommand } : {}),
    }));
    return settled.map((outcome, index) => {
        const host = connections[index].host.label;
        if (outcome.status === 'fulfilled')
            return { ...outcome.value, host };
        const reason = outcome.reason;
        const error = reason instanceof Error ? reason : new Error(String(reason));
        return { host, removed: false, stopped: false, error };
    });
}

;// CONCATENATED MODULE: ./shared/host/staged.ts



/**
 * Locks the host and reads it, then runs `prepare` (checks, the upload); the lock stays held
 * until the staged host is activated or abandoned. A failure on the way releases it.
 */
async function stageHost(session, lock, releaseId, prepare) {
    const held = await session.hold(lock, releaseId);
    try {
        session.phase('inspect');
        const snapshot = await session.inspect();
        const activation = await prepare(held.token, snapshot);
        return new Staged({ session, held, lock, releaseId, snapshot, activation });
    }
    catch (error) {
        await held.release();
        throw error;
    }
}
class Staged {
    step;
    label;
    releaseId;
    current;
    wasCurrent;
    /** Since when the host waits for others: that time is not the host's own. */
    idleSince = Date.now();
    constructor(step) {
        this.step = step;
        this.label = step.session.label;
        this.releaseId = step.releaseId;
        this.current = step.snapshot.current;
        this.wasCurrent = wasCurrent(parseHistory(step.snapshot.history), step.releaseId);
    }
    async runCommand(command, timeoutSeconds, onOutput) {
        const { session } = this.step;
        this.wait();
        session.phase('release-command');
        try {
            return await execInRelease(session, this.releaseId, command, {
                timeoutSeconds,
                ...(onOutput ? { onOutput } : {}),
            });
        }
        finally {
            this.idleSince = Date.now();
        }
    }
    async activate() {
        this.wait();
        try {
            return await this.step.activation();
        }
        finally {
            await this.step.held.release();
        }
    }
    async abandon(releaseCommandFailure) {
        const { session, lock } = this.step;
        try {
            if (releaseCommandFailure !== undefined) {
                await activate_record(session, [
                    {
                        event: 'release-command-failed',
                        release: this.releaseId,
                        reason: releaseCommandFailure,
                        time: new Date().toISOString(),
                        by: lock.holder,
                        ...(lock.run ? { run: lock.run } : {}),
                    },
                ]);
            }
        }
        catch (error) {
            session.log.warning(`host ${session.label}: could not record that the release command failed: ${(0,errors/* formatError */.Wk)(error)}`);
        }
        finally {
            await this.step.held.release();
        }
    }
    wait() {
        this.step.session.waitedMs += Date.now() - this.idleSince;
    }
}

;// CONCATENATED MODULE: ./shared/host/base-report.ts






/*
 * The base check's report (checkBaseScript) as the runner reads it: decompressed and split into
 * lines as it comes, never held whole (an index of a large release is megabytes), and never read
 * past what a report can be, since a host's output is untrusted.
 */
/**
 * Pieces of a report read line by line: each decoded piece is a string of its own, and one
 * under V8's large-object size (128 KiB) dies young, where a larger one waits for a full
 * collection, however little of it is kept.
 */
const REPORT_PIECE = 64 * 1024;
/**
 * A script's stdout that the host compressed with its own tool (whole, or as it arrives),
 * decompressed as it is read, in pieces: an index report is megabytes once decompressed. A
 * reader that stops early does not always stop the reading of `stdout` (the zstd reading keeps
 * its source): an ArrivingOutput is told to stop by whoever reads it.
 */
function decompressedOutput(stdout, decompressor) {
    const source = Buffer.isBuffer(stdout) ? [stdout] : stdout;
    if (decompressor === 'gzip') {
        return (0,external_node_stream_.pipeline)(external_node_stream_.Readable.from(source), external_node_zlib_default().createGunzip({ chunkSize: REPORT_PIECE }), () => {
            // An error ends the reading: its reader sees it.
        });
    }
    // Frame by frame: Node's own zstd reading stops after the first (zstd-frames.ts).
    if (decompressor === 'zstd')
        return decompressZstd(source, REPORT_PIECE);
    return base_report_pieces(source);
}
async function* base_report_pieces(source) {
    for await (const bytes of source) {
        for (let at = 0; at < bytes.length; at += REPORT_PIECE) {
            yield bytes.subarray(at, at + REPORT_PIECE);
        }
    }
}
/**
 * The most of a script's stdout that may wait, arrived but not yet read: as much as a
 * transport keeps of a finished script's output.
 */
const MAX_UNREAD = OUTPUT_LIMIT;
/**
 * A script's stdout as it arrives (`push`, then `end`), read once as it comes. What waits for
 * its reader is bounded: past MAX_UNREAD the output ends there, as if cut short (so it is no
 * report). Once its reader has stopped (`stop`), what arrives is dropped.
 */
class ArrivingOutput {
    #chunks = [];
    #unread = 0;
    #ended = false;
    #wake;
    /** Bytes arrived and not yet read. */
    get unread() {
        return this.#unread;
    }
    push(chunk) {
        if (this.#ended)
            return;
        if (this.#unread + chunk.length > MAX_UNREAD)
            return this.end();
        this.#chunks.push(chunk);
        this.#unread += chunk.length;
        this.#wake?.();
    }
    end() {
        this.#ended = true;
        this.#wake?.();
    }
    /** The reader is done: nothing more is kept. */
    stop() {
        this.end();
        this.#chunks = [];
        this.#unread = 0;
    }
    async *[Symbol.asyncIterator]() {
        for (;;) {
            const chunk = this.#chunks.shift();
            if (chunk !== undefined) {
                this.#unread -= chunk.length;
                yield chunk;
            }
            else if (this.#ended)
                return;
            else
                await new Promise((resolve) => (this.#wake = resolve));
        }
    }
}
/**
 * The longest line a report can hold: a path and a link target of PATH_MAX bytes each, every
 * byte escaped (`\xHH`), and the other fields. A longer one is not a report's.
 */
const MAX_REPORT_LINE = 2 * 4 * MAX_PATH_BYTES + 256;
/**
 * The most a report may decompress to: an index of some four million entries. The host's output
 * is untrusted; a larger one is no report, and the release is sent whole.
 */
const MAX_REPORT_BYTES = 512 * 1024 * 1024;
/**
 * Reads checkBaseScript's output line by line as it comes: the base's index lines go to
 * `lines.index`, the paths of its files that are not as the index says are gathered. `end()`
 * gives those paths, or undefined when the output was cut short or is not a report.
 */
class BaseCheckReader {
    #marker;
    #end;
    #lines;
    #unverified = new Set();
    #section = 'index';
    #rest = '';
    constructor(nonce, lines) {
        this.#marker = `${nonce} unverified`;
        this.#end = `${nonce} end`;
        this.#lines = lines;
    }
    /** Whether what was read so far can still be a report. */
    get plausible() {
        return this.#section !== 'other';
    }
    /** The next piece of the output, decoded. */
    push(text) {
        if (this.#section === 'other')
            return;
        const all = this.#rest + text;
        let from = 0;
        for (let at = all.indexOf('\n'); at !== -1; from = at + 1, at = all.indexOf('\n', from)) {
            this.#line(all.slice(from, at));
        }
        this.#rest = all.slice(from);
        if (this.#rest.length > MAX_REPORT_LINE)
            this.#other();
    }
    end() {
        return this.#section === 'done' && this.#rest === '' ? this.#unverified : undefined;
    }
    #line(line) {
        if (this.#section === 'index') {
            if (line !== this.#marker)
                this.#lines.index(line);
            else {
                this.#section = 'unverified';
                this.#lines.indexEnd?.();
            }
        }
        else if (this.#section === 'unverified') {
            if (line === this.#end)
                this.#section = 'done';
            else if (line !== '')
                this.#unverified.add(line);
        }
        else
            this.#other();
    }
    #other() {
        this.#section = 'other';
        this.#rest = '';
        this.#unverified.clear();
    }
}
/**
 * BaseCheckReader over the output's bytes, decoded as UTF-8 as they come; stops reading, with no
 * report, at MAX_REPORT_BYTES or once the output cannot be a report.
 */
async function readBaseCheck(output, nonce, lines) {
    const reader = new BaseCheckReader(nonce, lines);
    const decoder = new external_node_string_decoder_.StringDecoder('utf8');
    let bytes = 0;
    for await (const chunk of output) {
        bytes += chunk.length;
        if (bytes > MAX_REPORT_BYTES)
            return undefined;
        reader.push(decoder.write(chunk));
        if (!reader.plausible)
            return undefined;
    }
    reader.push(decoder.end());
    return reader.end();
}

;// CONCATENATED MODULE: ./shared/host/delta-plan.ts


/** What a plan reads of an index line: its encoded path, whether it lists a file, its size. */
function fieldsOf(line) {
    const tab = line.indexOf('\t');
    const modeEnd = line.indexOf('\t', tab + 3);
    const sizeEnd = line.indexOf('\t', modeEnd + 1);
    return {
        key: line.slice(0, tab),
        file: line.startsWith('f\t', tab + 1),
        size: Number(line.slice(modeEnd + 1, sizeEnd)),
    };
}
/** A full transfer: everything travels, and the index too. */
function fullPlan(next) {
    let bytes = 0;
    for (const line of indexLines(next))
        bytes += fieldsOf(line).size;
    return {
        carry: CarriedFiles.none,
        sendEntries: next.length,
        sendBytes: bytes,
        carriedBytes: 0,
        update: { how: 'keep', listed: [], entries: next },
    };
}
/** The lines of `next` that travel, read again (and made entries) each time they are asked for. */
function travelling(next, travels, count) {
    function* lines() {
        for (const line of indexLines(next))
            if (travels(line))
                yield line;
    }
    return {
        length: count,
        lines,
        *[Symbol.iterator]() {
            for (const line of lines())
                yield parseIndexLine(line);
        },
    };
}
/**
 * Links what the base has as shipped (the same path, mode, size and sha256, and not reported as
 * changed on the host), sends the rest. The host rebuilds the index from the base's lines of the
 * carried files plus the lines sent: it is told which base lines to keep, or which to drop,
 * whichever list is shorter. `diff` compares the base release's index with the new one. Two
 * passes over the index's lines (never made entries), and nothing kept for an entry but what
 * the shorter lists hold.
 */
function deltaPlan(diff, unverified) {
    // A linked file's path is plain: its line's first field, encoded, is the path itself.
    const linked = (key, matched) => matched && !unverified.has(key);
    // Base file lines not carried into the new index.
    const dropped = [...diff.unmatched];
    let carried = 0;
    let files = 0;
    let sent = 0;
    let sendBytes = 0;
    let carriedBytes = 0;
    for (const { line, linked: matched } of diffLines(diff)) {
        const { key, file, size } = fieldsOf(line);
        if (file)
            files++;
        if (linked(key, matched)) {
            carried++;
            carriedBytes += size;
            continue;
        }
        if (matched)
            dropped.push(key);
        sent++;
        sendBytes += size;
    }
    // The shorter of the files linked and the files that travel names the links, by path: a
    // linked file's is plain, one that travels may need its line's field decoded.
    const these = carried <= files - carried;
    const keep = carried <= dropped.length;
    const carriedPaths = [];
    const listed = new Set();
    for (const { line, linked: matched } of diffLines(diff)) {
        const { key, file } = fieldsOf(line);
        const link = linked(key, matched);
        if (keep && link)
            carriedPaths.push(key);
        if (file && link === these)
            listed.add(decodeField(key));
    }
    const carry = new CarriedFiles(diff.next, these ? 'these' : 'all but these', listed, carried);
    const travels = (line) => {
        const { key, file } = fieldsOf(line);
        return !file || !carry.has(decodeField(key));
    };
    return {
        carry,
        sendEntries: sent,
        sendBytes,
        carriedBytes,
        update: {
            how: keep ? 'keep' : 'drop',
            listed: keep ? carriedPaths : dropped,
            entries: travelling(diff.next, travels, sent),
        },
    };
}

;// CONCATENATED MODULE: ./shared/host/progress.ts
/*
 * Progress of a long upload, for the log: how much of the release has gone, what went on the
 * wire, the rate and the time left. Quiet for uploads shorter than a few seconds, and at most
 * one line every few seconds after that.
 */
const MiB = 1024 * 1024;
function size(bytes) {
    return bytes < MiB ? `${(bytes / 1024).toFixed(0)} KiB` : `${(bytes / MiB).toFixed(1)} MiB`;
}
function duration(seconds) {
    if (seconds < 90)
        return `${Math.max(1, Math.round(seconds))} s`;
    return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
}
/** `45.2 MiB of 150.3 MiB (30%), 12.1 MiB sent, 8.0 MiB/s on the wire, about 13 s left` */
function progressLine(figures) {
    const seconds = figures.elapsedMs / 1000;
    const share = figures.total > 0 ? Math.min(100, (100 * figures.done) / figures.total) : 100;
    const wireRate = seconds > 0 ? figures.wire / seconds : 0;
    const tarRate = seconds > 0 ? figures.done / seconds : 0;
    const left = tarRate > 0 && figures.total > figures.done
        ? `, about ${duration((figures.total - figures.done) / tarRate)} left`
        : '';
    return `${size(figures.done)} of ${size(figures.total)} (${share.toFixed(0)}%), ${size(figures.wire)} sent, ${size(wireRate)}/s on the wire${left}`;
}
/** Counts an upload's bytes as they pass and reports now and then. */
class UploadProgress {
    #options;
    #started;
    #done = 0;
    #wire = 0;
    #last;
    #reported = false;
    constructor(options) {
        this.#options = { now: Date.now, afterMs: 5000, everyMs: 5000, ...options };
        this.#started = this.#options.now();
        this.#last = this.#started;
    }
    /**
     * How far the upload has got: `done` bytes of the release's tar (before compression: what
     * the share and the time left are made of), `wire` bytes sent.
     */
    at(done, wire) {
        this.#done = done;
        this.#wire = wire;
        this.#tick();
    }
    /** A last line, once the upload is over, if it was long enough to report at all. */
    finish() {
        if (this.#reported)
            this.#line();
    }
    #tick() {
        const now = this.#options.now();
        if (now - this.#started < this.#options.afterMs)
            return;
        if (this.#reported && now - this.#last < this.#options.everyMs)
            return;
        this.#last = now;
        this.#reported = true;
        this.#line();
    }
    #line() {
        const figures = {
            done: this.#done,
            total: this.#options.total,
            wire: this.#wire,
            elapsedMs: this.#options.now() - this.#started,
        };
        this.#options.report(`${this.#options.label}: ${progressLine(figures)}`);
    }
}

;// CONCATENATED MODULE: ./shared/host/delta-transfer.ts










const planning = new WeakMap();
function planningFor(next) {
    let made = planning.get(next);
    if (!made)
        planning.set(next, (made = { diffs: new Map(), plans: new Map(), streamed: undefined }));
    return made;
}
/** A report's index lines, hashed, and for the first host of a release diffed, as they come. */
class IndexLines {
    planning;
    diffed;
    #hash = (0,external_node_crypto_.createHash)('sha256');
    /** Failed: a line no index holds, so no diff (and no plan) for that index. */
    #differ;
    #key;
    /** With `diffed`, the lines are diffed as they come, and `diffed` is called once they end. */
    constructor(planning, next, diffed) {
        this.planning = planning;
        this.diffed = diffed;
        this.#differ = diffed ? new IndexDiffer(next) : undefined;
    }
    /** The sha256 of the index's lines, once they have all come. */
    get key() {
        return this.#key;
    }
    index(line) {
        this.#hash.update(line).update('\n');
        if (this.#differ === undefined || this.#differ === 'failed')
            return;
        try {
            this.#differ.line(line);
        }
        catch {
            this.#differ = 'failed';
        }
    }
    indexEnd() {
        const key = (this.#key = this.#hash.digest('hex'));
        const differ = this.#differ;
        this.#differ = undefined;
        // Diffed as it came: ready for every host whose index has the same lines.
        if (differ !== undefined && !this.planning.diffs.has(key)) {
            this.planning.diffs.set(key, Promise.resolve(differ === 'failed' ? undefined : delta_transfer_finished(differ)));
        }
        this.diffed?.();
    }
}
/** What an IndexDiffer found; undefined when what it was given is no index (no line at all). */
function delta_transfer_finished(differ) {
    try {
        return differ.finish();
    }
    catch {
        return undefined;
    }
}
/**
 * Checks the base against its index; undefined when the host cannot vouch for any of it. The
 * report is read as the host writes it, never held whole: its index lines hashed (the key by
 * which hosts share a diff) and, for the first host of a release, diffed at once, so the diff
 * is made while the host still checks its files. A host whose index was not diffed that way
 * has its report read again, from its output, to diff it.
 */
async function checkBase(host, options) {
    const { base, tools } = options;
    if (base === undefined || tools.hash === undefined)
        return undefined;
    const shared = planningFor(options.next);
    // The first host's report is diffed as it comes; until its index has come, others wait for it.
    const waitFor = shared.streamed;
    let diffed = () => undefined;
    if (waitFor === undefined)
        shared.streamed = new Promise((done) => (diffed = done));
    const lines = new IndexLines(shared, options.next, waitFor === undefined ? diffed : undefined);
    const nonce = (0,external_node_crypto_.randomBytes)(16).toString('hex');
    const arriving = new ArrivingOutput();
    const reading = readBaseCheck(decompressedOutput(arriving, tools.decompressor), nonce, lines);
    // Its report read, or not to be: nothing more is kept of it, and hosts waiting for its diff
    // wait no more. (Awaited below; a failed exec must not leave a rejection unhandled.)
    const settled = () => {
        arriving.stop();
        diffed();
    };
    void reading.then(settled, settled);
    let checked;
    try {
        checked = await host.exec(checkBaseScript(options.root, base, { ...tools, hash: tools.hash }, nonce), { onStdout: (chunk) => arriving.push(chunk) });
    }
    finally {
        arriving.end();
    }
    // No base or no index (a release from before indexes): a full transfer, as for a first deploy.
    if (checked.code !== 0)
        return undefined;
    const unverified = await reading;
    const key = lines.key;
    if (unverified === undefined || key === undefined)
        return undefined;
    if (!shared.diffs.has(key))
        await waitFor;
    let diff = shared.diffs.get(key);
    if (diff === undefined) {
        diff = diffOutput(options.next, decompressedOutput(checked.stdout, tools.decompressor), nonce);
        shared.diffs.set(key, diff);
    }
    const plan = (0,external_node_crypto_.createHash)('sha256').update(key);
    for (const path of [...unverified].sort())
        plan.update('\0').update(path);
    return delta_transfer_once(shared.plans, plan.digest('hex'), async () => {
        const made = await diff;
        return made && deltaPlan(made, unverified);
    });
}
/** The diff of a report's index read again from its output; undefined if it is not an index. */
async function diffOutput(next, output, nonce) {
    const differ = new IndexDiffer(next);
    try {
        await readBaseCheck(output, nonce, { index: (line) => differ.line(line) });
    }
    catch {
        return undefined;
    }
    return delta_transfer_finished(differ);
}
function delta_transfer_once(made, key, make) {
    let value = made.get(key);
    if (value === undefined)
        made.set(key, (value = make()));
    return value;
}
/**
 * What travels: the files the base has as shipped are linked from it, the rest is sent; with
 * no base, no hash tool or nothing to link, everything is sent.
 */
async function planTransfer(host, options) {
    const delta = await checkBase(host, options);
    const plan = delta && delta.carry.size > 0 ? delta : fullPlan(options.next);
    return { plan, base: plan.carry.size > 0 ? options.base : undefined };
}
/**
 * The stream a host unpacks: the release's entries as the plan says and the index update (made
 * once for every host with that plan), then its own files and, last, a file holding the nonce,
 * so the host can tell a whole stream from one cut short. Compressed as the host can read.
 */
function uploadStream(options) {
    const { planned } = options;
    const wire = options.tools.decompressor;
    const relative = planned.base === undefined;
    const into = relative ? '' : `${options.id}.tmp`;
    const read = options.payload.read({
        into,
        wire,
        update: planned.plan.update,
        ...(planned.base === undefined ? {} : { base: planned.base, carry: planned.plan.carry }),
    });
    const total = planned.plan.sendBytes + 512 * (planned.plan.sendEntries + planned.plan.carry.size);
    const progress = options.progress
        ? new UploadProgress({ ...options.progress, total })
        : undefined;
    const files = [
        ...options.files,
        { path: '.release/complete', content: Buffer.from(read.nonce) },
    ];
    async function* chunks() {
        let wireBytes = 0;
        for await (const chunk of read.chunks) {
            wireBytes += chunk.length;
            progress?.at(read.tarSent(), wireBytes);
            yield chunk;
        }
        // Only once every entry went out whole: a stream that failed never gets its last file.
        yield* onTheWire(releaseFilesTar(into, files), wire);
    }
    return {
        stdin: external_node_stream_.Readable.from(chunks()),
        relative,
        nonce: read.nonce,
        summary: uploadSummary(planned, read.forwarded ? 'forwarded' : wire),
        finish: () => progress?.finish(),
    };
}
function uploadSummary(planned, how) {
    const { plan, base } = planned;
    const sent = `${plan.sendEntries.toLocaleString('en-US')} entries sent (${(0,markdown/* formatBytes */.z3)(plan.sendBytes)} of files)`;
    const wire = how === 'forwarded'
        ? "the bundle's own zstd frames"
        : how === undefined
            ? 'a plain tar'
            : `compressed with ${how}`;
    if (base === undefined)
        return `${sent}, all of it: ${wire}`;
    return `${plan.carry.size.toLocaleString('en-US')} files linked from ${base}, ${sent}, ${wire}`;
}
/**
 * Writes the index of `releases/<id>.tmp` whole from the runner's index, when the one merged
 * on the host (from a base index not written the canonical way) differs from it.
 */
async function rewriteIndex(host, options) {
    await host.must(`writing ${options.id}/.release/index`, writeIndexScript(options.root, options.id, options.tools), { stdin: external_node_stream_.Readable.from(onTheWire(options.payload.indexFile(), options.tools.decompressor)) });
}

;// CONCATENATED MODULE: ./shared/host/transfer.ts




/**
 * Puts a release directory on the host: the files its newest release has as shipped linked
 * from it, the rest sent, compressed when the host can decompress; its `.env`, signed manifest
 * and index in the same stream; shared paths linked, then renamed into place, so a release
 * directory that exists is complete. A failure leaves nothing half-made behind.
 */
async function transferRelease(session, options) {
    const { release, tools } = options;
    const { root } = session;
    const { id, payload } = release;
    if (options.base !== undefined)
        session.phase('check');
    const next = payload.index;
    const planned = await planTransfer(session, { root, base: options.base, tools, next });
    session.phase('upload');
    const upload = uploadStream({
        id,
        payload,
        planned,
        tools,
        files: [
            { path: '.env', content: Buffer.from(options.envFile), mode: 0o600 },
            { path: '.release/release.json', content: release.manifestBytes },
            { path: '.release/release.json.sig', content: release.signatureBytes },
        ],
        progress: { label: `host ${session.label}: ${id}`, report: (line) => session.log.info(line) },
    });
    session.log.info(`host ${session.label}: ${id}: ${upload.summary}`);
    upload.stdin.once('end', () => session.phase('unpack'));
    const install = {
        id,
        sharedPaths: options.sharedPaths,
        replace: options.replace,
        stamps: tools.stamps,
    };
    const script = receiveScript(root, {
        ...install,
        decompressor: tools.decompressor,
        relative: upload.relative,
        nonce: upload.nonce,
        index: { base: planned.base, how: planned.plan.update.how, header: INDEX_HEADER },
        indexDigest: tools.hash ? { hash: tools.hash, hex: payload.indexDigest } : undefined,
    });
    try {
        const received = await session.exec(script, { stdin: upload.stdin });
        upload.finish();
        session.phase('install');
        if (received.code === scripts_root/* EXIT */.dc.indexDiffers) {
            await rewriteIndex(session, { root, id, payload, tools });
            await session.must(`installing ${id}`, installScript(root, install));
        }
        else if (received.code !== 0) {
            throw session.failure(`unpacking ${id}`, received);
        }
    }
    catch (error) {
        // Free what the partial unpack took (a full disk); the next deploy would clean it anyway.
        await session.exec((0,scripts_root/* cleanScript */.xO)(root)).catch(() => undefined);
        throw error;
    }
}

;// CONCATENATED MODULE: ./shared/host/deploy.ts









/**
 * The first half of a deploy: lock, upload unless the host has the release; nothing switched,
 * the lock kept until the staged host is activated (the second half) or abandoned.
 */
async function stageDeploy(transport, options) {
    const { release } = options;
    const id = checkReleaseId(release.id);
    const sharedPaths = (0,scripts_root/* checkSharedPaths */.Ak)(options.sharedPaths);
    const envFile = renderEnvFile(release.env);
    const session = new HostSession(transport, options);
    return stageHost(session, options.lock, id, async (token, snapshot) => {
        const onHost = placeOnHost(session, snapshot, release);
        await session.beforeChange(options.beforeChange);
        await clean(session, snapshot);
        if (onHost === 'same') {
            session.log.info(`host ${session.label}: ${id} is already on the host; nothing to upload`);
        }
        else {
            await transferRelease(session, {
                release,
                envFile,
                sharedPaths,
                replace: onHost === 'replace',
                tools: snapshot.tools,
                base: baseOf(snapshot),
            });
        }
        return () => switchDeployed(session, { options, token, snapshot, id, same: onHost === 'same' });
    });
}
/** The second half of a deploy: switch, bring up (or back), record, prune. */
async function switchDeployed(session, step) {
    const { options, snapshot, id } = step;
    const previousId = snapshot.current;
    const present = new Set(snapshot.releases.map((r) => r.id).concat(id));
    const fallback = previousId !== undefined && previousId !== id && present.has(previousId)
        ? previousId
        : previousGood(parseHistory(snapshot.history), id, present);
    const activation = await activate({
        session,
        token: step.token,
        commands: options,
        id,
        fallback,
        kind: 'activated',
        from: previousId,
        digest: options.release.digest,
        by: options.lock.holder,
        run: options.lock.run,
    });
    await activate_record(session, activation.events);
    const pruned = await prune(session, {
        present: [...present],
        current: activation.currentId,
        history: [...parseHistory(snapshot.history), ...activation.events],
        keep: options.keep,
    }, snapshot.tools.stamps);
    return hostResult(session, activation, {
        releaseId: id,
        previousId,
        skippedUpload: step.same,
        pruned,
    });
}
/**
 * Whether the host has this release already (the same release.json), a different one under its
 * ID, or none; refuses what the deploy could not do: replace the current release, or unpack
 * without tar.
 */
function placeOnHost(session, snapshot, release) {
    const { id } = release;
    const existing = snapshot.releases.find((r) => r.id === id);
    const same = existing?.manifest !== undefined &&
        digestOf(existing.manifest) === digestOf(release.manifestBytes);
    if (same)
        return 'same';
    if (existing && snapshot.current === id) {
        throw session.error({
            problem: `releases/${id} is current but holds a different release.json than release ${id}`,
            hint: 'releases never change: deploy a new release ID',
        });
    }
    if (!snapshot.tar)
        throw session.noTar();
    return existing ? 'replace' : 'upload';
}
async function clean(session, snapshot) {
    session.phase('clean');
    if (snapshot.leftovers.length > 0) {
        session.log.info(`host ${session.label}: removing leftovers of an interrupted deploy: ${snapshot.leftovers.join(', ')}`);
    }
    await session.must('cleaning leftovers', (0,scripts_root/* cleanScript */.xO)(session.root));
}
/**
 * The release a new one is built from: current when it is on the host, else the newest good
 * one there. Its files that are as shipped are linked, not sent.
 */
function baseOf(snapshot) {
    const present = new Set(snapshot.releases.map((r) => r.id));
    if (snapshot.current !== undefined && present.has(snapshot.current))
        return snapshot.current;
    return previousGood(parseHistory(snapshot.history), undefined, present);
}
async function prune(session, what, stamps) {
    const ids = releasesToPrune(what);
    if (ids.length === 0)
        return [];
    session.phase('prune');
    await session.must('pruning old releases', pruneScript(session.root, ids, stamps));
    session.log.info(`host ${session.label}: pruned ${ids.join(', ')}`);
    return ids;
}

;// CONCATENATED MODULE: ./shared/host/rollback.ts






/**
 * Makes a release still on the host current again: no upload, one rename, then restart and health
 * check (on failure, back to what was current). For `previous` and for putting a fleet back.
 */
async function rollbackHost(transport, options) {
    return (await stageRollback(transport, options)).activate();
}
/** The first half of a rollback: lock, check the release is still there; nothing switched. */
async function stageRollback(transport, options) {
    const id = checkReleaseId(options.to);
    const session = new HostSession(transport, options);
    return stageHost(session, options.lock, id, async (token, snapshot) => {
        const target = snapshot.releases.find((r) => r.id === id);
        if (!target) {
            throw session.error({
                problem: `release ${id} is no longer on the host (releases there: ${snapshot.releases.map((r) => r.id).join(', ') || 'none'})`,
                hint: 'deploy it instead',
            });
        }
        if (options.manifestBytes &&
            (!target.manifest || digestOf(target.manifest) !== digestOf(options.manifestBytes))) {
            throw session.error({
                problem: `releases/${id} holds a different release.json than release ${id}`,
                hint: 'deploy it to replace it',
            });
        }
        await session.beforeChange(options.beforeChange);
        return async () => {
            const previousId = snapshot.current;
            const activation = await activate({
                session,
                token,
                commands: options,
                id,
                fallback: previousId !== undefined && previousId !== id ? previousId : undefined,
                kind: 'rolled-back',
                from: previousId,
                digest: manifestBuildDigest(target.manifest),
                by: options.lock.holder,
                run: options.lock.run,
            });
            await activate_record(session, activation.events);
            return hostResult(session, activation, {
                releaseId: id,
                previousId,
                skippedUpload: true,
                pruned: [],
            });
        };
    });
}

;// CONCATENATED MODULE: ./shared/stages/run-checks.ts







/**
 * The run stage's "check inputs" step: every input parsed and checked before anything is read
 * from GitHub or a host, with no request and no connection. Secrets are masked first. ship runs
 * it before its build; run-action as the stage's first step.
 */
function checkRun(inputs, context, names = { path: 'path' }) {
    for (const secret of [inputs['ssh-key'], inputs['proxy-jump-key'], inputs.identity]) {
        if (secret)
            context.log.setSecret(secret);
    }
    const app = (0,shared_names/* resolveApp */.Ae)(inputs.app, context);
    const root = (0,errors/* forInput */.cp)(names.path, () => (0,scripts_root/* deployRoot */.CB)(inputs.path ?? `/srv/${app}/${inputs.environment}`));
    checkDestroy(inputs);
    // Destroying verifies nothing: it removes what is on the hosts.
    const allowedSigners = inputs.destroy ? [] : requiredSigners(inputs['allowed-signers']);
    const identities = inputs.identity === undefined ? [] : parseIdentities(inputs.identity);
    const access = hostAccess(inputs, context);
    checkHostAccess(inputs.hosts, access);
    const releaseCommand = releaseCommandFrom({
        command: inputs['release-command'],
        host: inputs['release-command-host'],
        hosts: inputs.hosts,
        timeoutSeconds: inputs['release-command-timeout'],
        onReturn: inputs['release-command-on-rollback'],
    });
    return { app, root, allowedSigners, identities, access, releaseCommand };
}
function requiredSigners(text) {
    const signers = parseAllowedSigners(text ?? '');
    if (signers.length === 0) {
        throw new errors/* ConfigurationError */.j1({
            input: 'allowed-signers',
            expected: 'at least one line like `ci@example.com ssh-ed25519 AAAA…`',
        });
    }
    return signers;
}
/**
 * `destroy` removes an environment from its hosts for good: a preview's (`pr-<n>`) as a pull
 * request closes, any other only when its name is given again in `destroy-confirm`.
 */
function checkDestroy(inputs) {
    const { environment } = inputs;
    const confirm = inputs['destroy-confirm'];
    if (!inputs.destroy) {
        if (confirm === undefined)
            return;
        throw new errors/* ConfigurationError */.j1({ input: 'destroy-confirm', problem: 'set, but destroy is not' });
    }
    // A dry run changes nothing; a teardown has no dry run, so the two are never taken together.
    if (inputs['dry-run']) {
        throw new errors/* ConfigurationError */.j1({
            input: 'dry-run',
            problem: 'set with destroy, which has no dry run: nothing was stopped or removed',
            hint: 'leave dry-run out to tear the environment down',
        });
    }
    if (confirm === undefined) {
        if ((0,shared_names/* isPreviewEnvironment */.Kc)(environment))
            return;
        throw new errors/* ConfigurationError */.j1({
            input: 'destroy',
            problem: `${environment} is not a preview environment (pr-<n>): destroy would remove it from every host`,
            hint: `to tear it down all the same, give its name again as destroy-confirm: ${environment}`,
        });
    }
    if (confirm !== environment) {
        throw new errors/* ConfigurationError */.j1({
            input: 'destroy-confirm',
            expected: `the name of the environment destroy removes, ${environment}`,
            got: (0,errors/* quoted */.TL)(confirm),
        });
    }
}
function hostAccess(inputs, context) {
    const proxyJump = proxyJumpOf({
        bastion: inputs['proxy-jump'],
        proxyJumpKey: inputs['proxy-jump-key'],
        sshKey: inputs['ssh-key'],
    });
    return {
        sshKey: inputs['ssh-key'],
        knownHosts: inputs['known-hosts'],
        localEnv: localEnv(context.env),
        ...(proxyJump ? { proxyJump } : {}),
    };
}

;// CONCATENATED MODULE: ./shared/stages/run.ts





















/**
 * Deploys a release to the hosts (or rolls back, or tears down): every input checked, then the
 * release resolved and verified, and only then the hosts connected and a Deployment recorded.
 * A host that fails is a result: the outputs and summary say where each host stands.
 */
async function run(inputs, context, checked) {
    const checklist = new Checklist();
    try {
        return await steps(inputs, context, checklist, checked);
    }
    catch (error) {
        // Stopped before any host changed: the summary says what passed and that nothing changed.
        return {
            outputs: runOutputs(inputs, { 'release-id': checklist.commonRelease() ?? '' }),
            summary: stoppedSummary({
                title: runTitle({ ...inputs, app: inputs.app ?? context.repo }),
                error,
                checklist,
            }),
            failure: error instanceof Error ? error : new Error(String(error)),
        };
    }
}
async function steps(inputs, context, checklist, checked) {
    const setup = setUp(inputs, context, checklist, checked ?? checkRun(inputs, context));
    try {
        if (inputs.destroy)
            return await destroy(setup);
        const release = await resolveRelease({
            ...setup,
            selector: inputs['release-id'],
            identity: inputs.identity,
            maxExpandedBytes: inputs['max-unpacked-size'],
            tempDir: context.tempDir,
            log: context.log,
        }).catch((error) => {
            throw tokenProblem(error, 'reading the release') ?? error;
        });
        try {
            return inputs['dry-run'] ? await dryRun(setup, release) : await rollOut(setup, release);
        }
        finally {
            await release.dispose();
        }
    }
    finally {
        await setup.fleet.close();
    }
}
function hostsWord(inputs) {
    return inputs.hosts.length === 1 ? 'host' : 'hosts';
}
/** The hosts, connected: for `previous` already, to read what it means. */
async function connected(setup, release) {
    const connections = await setup.fleet.connections();
    if (!release.rollback) {
        setup.checklist.pass(`connected to ${connections.length} ${hostsWord(setup.inputs)}`);
    }
    return connections;
}
/** The stage's setup from its checked inputs: the GitHub client, the hosts (not yet connected). */
function setUp(inputs, context, checklist, checked) {
    const { app, root, allowedSigners, access, releaseCommand } = checked;
    const { environment } = inputs;
    const signers = allowedSigners.length;
    checklist.pass(`the inputs: ${inputs.hosts.length} ${hostsWord(inputs)} with their keys, the deploy root ${(0,markdown/* code */.aY)(root)}${inputs.destroy ? '' : `, ${signers} allowed signer${signers === 1 ? '' : 's'}`}`);
    const github = gitHubClient({ token: inputs.token, apiUrl: context.apiUrl, log: context.log });
    return {
        checklist,
        inputs,
        context,
        app,
        root,
        allowedSigners,
        github,
        scope: { owner: context.owner, repo: context.repo, app, environment },
        lock: {
            holder: `${context.actor || 'someone'} (run ${context.runId || '?'})`,
            run: (0,shared_context/* runUrl */.Vp)(context),
            waitSeconds: inputs['lock-timeout'],
            staleSeconds: inputs['lock-stale-after'],
        },
        commands: {
            ...(inputs.restart !== undefined ? { restart: inputs.restart } : {}),
            ...(inputs['health-check'] !== undefined ? { healthCheck: inputs['health-check'] } : {}),
            healthTimeoutSeconds: inputs['health-timeout'],
        },
        releaseCommand,
        fleet: openFleet(inputs.hosts, access, inputs.parallel),
    };
}
/** Rolls the release out; the Deployment is recorded once the first host is about to change. */
async function rollOut(setup, release) {
    const { inputs, context } = setup;
    const { verified } = release;
    const connections = await connected(setup, release);
    const deployment = inputs.deployment
        ? new PendingDeployment(deploymentTarget(setup), deploymentRequest(setup, release))
        : undefined;
    const { outcomes, releaseCommand } = await rollout(connections, hostSteps(setup, release, deployment)).catch(async (error) => {
        await deployment?.finish('error', { description: (0,errors/* formatError */.Wk)(error) });
        throw error;
    });
    // Recording the Deployment was refused: every host waited for it, so none changed.
    const deploymentId = await deployment?.id();
    const fleet = fleetResult(outcomes, {
        releaseId: verified.manifest.id,
        rollback: release.rollback,
        releaseCommand,
    });
    await deployment?.finish(fleet.failed ? 'failure' : 'success', {
        description: `${verified.manifest.id}: ${fleet.headline}`,
        ...(inputs.url ? { environmentUrl: inputs.url } : {}),
    });
    const where = { ...context, environment: inputs.environment };
    const summary = runSummary({
        ...releaseFacts(setup.app, verified),
        rollback: release.rollback,
        fleet,
        outcomes,
        hint: rollbackHint(where, fleet, verified.manifest.id),
        deploymentId,
        url: inputs.url,
        releaseCommand,
    });
    const outputs = runOutputs(inputs, {
        'release-id': fleet.release ?? '',
        'previous-release-id': fleet.before ?? '',
        'deployment-id': deploymentId !== undefined ? String(deploymentId) : '',
        'rolled-back': String(fleet.rolledBack),
        'bytes-sent': bytesSent(connections),
        'host-releases': hostReleases(outcomes),
    });
    return {
        outputs,
        summary: redactSecrets(summary, release.secretValues),
        ...(fleet.failure ? { failure: fleet.failure } : {}),
    };
}
/** What the rollout runs on each host: a deploy, or for `previous` a switch back. */
function hostSteps(setup, release, deployment) {
    const { inputs, root, lock, commands, checklist } = setup;
    const { log } = setup.context;
    const { hostRelease, verified } = release;
    const id = verified.manifest.id;
    const common = (c, hostLog) => ({
        root,
        lock,
        log: hostLog,
        reconnect: () => c.reconnect(),
        ...commands,
    });
    const beforeChange = async () => {
        await deployment?.beforeChange();
        checklist.changing = true;
    };
    return {
        parallel: inputs.parallel,
        onFailure: inputs['on-failure'],
        log,
        title: (host) => `${host}: ${release.rollback ? `roll back to ${id}` : `deploy ${id}`}`,
        stage: (c, onPhase, hostLog) => hostRelease
            ? stageDeploy(c.transport, {
                ...common(c, hostLog),
                onPhase,
                beforeChange,
                release: hostRelease,
                keep: inputs.keep,
                sharedPaths: inputs['shared-paths'],
            })
            : stageRollback(c.transport, {
                ...common(c, hostLog),
                onPhase,
                beforeChange,
                to: id,
                manifestBytes: verified.bytes,
            }),
        ...(setup.releaseCommand
            ? { releasePhase: releasePhase({ ...setup.releaseCommand, log }) }
            : {}),
        putBack: (c, to, hostLog) => rollbackHost(c.transport, { ...common(c, hostLog), to }),
        current: async (c) => (await readHostState(c.transport, { root, log })).current,
    };
}
/** A dry run: what each host would get, read from the hosts; nothing changes, nothing is recorded. */
async function dryRun(setup, release) {
    const { inputs, root } = setup;
    const { log } = setup.context;
    const { manifest, bytes } = release.verified;
    const hosts = await dryRunFleet(await connected(setup, release), {
        root,
        release: { id: manifest.id, manifestBytes: bytes },
        keep: inputs.keep,
        log,
    });
    const releaseCommand = plannedReleaseCommand(setup.releaseCommand, manifest.id, hosts);
    if (releaseCommand)
        log.info(describePlan(releaseCommand));
    setup.checklist.read(hosts.map((host) => ({ host: host.host, current: host.current })));
    const before = setup.checklist.commonRelease();
    return {
        outputs: runOutputs(inputs, { 'release-id': manifest.id, 'previous-release-id': before ?? '' }),
        summary: dryRunSummary({ ...releaseFacts(setup.app, release.verified), hosts, releaseCommand }),
    };
}
/** Tears the environment down on every host, then GitHub's record of it. */
async function destroy(setup) {
    const { inputs, app, root, github, scope, lock } = setup;
    const { environment } = inputs;
    const torn = await teardown(setup.fleet, {
        app,
        environment,
        root,
        lock,
        log: setup.context.log,
        stopCommand: inputs['stop-command'],
        parallel: inputs.parallel,
        deployments: inputs.deployment ? deploymentTarget(setup) : undefined,
        releases: inputs['delete-releases'] ? { github, scope } : undefined,
    });
    return {
        outputs: { ...runOutputs(inputs, {}), url: '' },
        summary: destroySummary({ app, environment, root, ...torn }),
        ...(torn.failure ? { failure: torn.failure } : {}),
    };
}
/**
 * Bytes sent to each host in this step, as they went on the wire (a failed upload's too), a
 * JSON object by host line: for the outputs.
 */
function bytesSent(connections) {
    const sent = connections.map((c) => [c.host.label, c.transport.bytesSent]);
    return JSON.stringify(Object.fromEntries(sent));
}
function runOutputs(inputs, values) {
    return {
        'release-id': '',
        'previous-release-id': '',
        hosts: inputs.hosts.map((host) => host.label).join('\n'),
        'deployment-id': '',
        url: inputs.url ?? '',
        'rolled-back': 'false',
        'bytes-sent': '{}',
        'host-releases': '',
        ...values,
    };
}
function deploymentTarget(setup) {
    const { context } = setup;
    return {
        github: setup.github,
        repository: { owner: context.owner, repo: context.repo },
        logUrl: (0,shared_context/* runUrl */.Vp)(context),
        log: context.log,
    };
}
function deploymentRequest(setup, release) {
    const { environment } = setup.inputs;
    const { manifest, digest } = release.verified;
    return {
        environment,
        sha: manifest.build.sha,
        app: setup.app,
        releaseId: manifest.id,
        manifestDigest: digest,
        description: `${release.rollback ? 'Roll back to' : 'Deploy'} ${manifest.id}: ${manifest.changes}`,
        transient: (0,shared_names/* isPreviewEnvironment */.Kc)(environment) || setup.context.eventName.startsWith('pull_request'),
        production: environment === 'production',
        rollback: release.rollback,
    };
}


/***/ })

};
