import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import {
  BlobSASPermissions,
  BlobServiceClient,
  SASProtocol,
  StorageSharedKeyCredential,
  generateBlobSASQueryParameters,
} from '@azure/storage-blob';
import type { Faults } from './faults.js';

/** Azurite's well-known development account: public, documented, not a secret. */
const ACCOUNT = 'devstoreaccount1';
const ACCOUNT_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

/**
 * Azurite ends when its stdin closes, so a test process that dies (a timeout, a crash) does not
 * leave it running.
 */
const EXIT_WITH_PARENT =
  'data:text/javascript,process.stdin.on("end",()=>process.exit(0));process.stdin.resume();';

export interface SignOptions {
  /** `r` to read, `cw` to create and write: the least each client needs. */
  permissions: 'r' | 'cw';
  expiresInSeconds?: number;
  /** Served as Content-Disposition on download (the SAS `rscd` override). */
  contentDisposition?: string;
  /** Served as Content-Type on download (the SAS `rsct` override). */
  contentType?: string;
}

export interface BlobInfo {
  size: number;
  contentType: string | undefined;
}

/**
 * Blob storage for artifacts, caches and release assets: Azurite (the Azure Storage emulator) in a
 * child process on Node 24, behind a pass-through proxy on which faults can be injected. The
 * @actions clients talk to it through SAS URLs, so signatures, permissions and block lists are
 * checked by a real implementation.
 */
export class BlobStore {
  private readonly credential = new StorageSharedKeyCredential(ACCOUNT, ACCOUNT_KEY);
  private readonly service: BlobServiceClient;
  private readonly containers = new Map<string, Promise<unknown>>();

  private constructor(
    private readonly child: ChildProcess,
    private readonly proxy: http.Server,
    private readonly workspace: string,
    /** Azurite itself, for the emulator's own calls. */
    readonly azuriteUrl: string,
    /** What signed URLs point at: the proxy. */
    readonly endpoint: string,
    private readonly containerPrefix: string,
  ) {
    this.service = new BlobServiceClient(`${azuriteUrl}/${ACCOUNT}`, this.credential);
  }

  static async start(faults: Faults, containerPrefix: string): Promise<BlobStore> {
    const workspace = await mkdtemp(path.join(tmpdir(), 'brr-azurite-'));
    const azurite = path.join(
      path.dirname(createRequire(import.meta.url).resolve('azurite/package.json')),
      'dist/src/blob/main.js',
    );
    const child = spawn(
      process.execPath,
      [
        '--import',
        EXIT_WITH_PARENT,
        azurite,
        '--blobHost',
        '127.0.0.1',
        '--blobPort',
        '0',
        '--inMemoryPersistence',
        '--extentMemoryLimit',
        '2048',
        '--skipApiVersionCheck',
        '--loose',
        '--disableTelemetry',
        '--silent',
      ],
      // Azurite keeps nothing on disk in memory mode, but it starts in its location (the cwd).
      { cwd: workspace, stdio: ['pipe', 'pipe', 'pipe'] },
    );
    let azuriteUrl: string;
    try {
      azuriteUrl = await new Promise<string>((resolve, reject) => {
        let output = '';
        const onData = (chunk: Buffer) => {
          output += chunk.toString();
          const listening = /successfully listens on (http:\/\/[\d.]+:\d+)/.exec(output);
          if (listening?.[1]) resolve(listening[1]);
        };
        child.stdout?.on('data', onData);
        child.stderr?.on('data', onData);
        child.once('error', reject);
        child.once('exit', (code) => reject(new Error(`Azurite exited (${code}): ${output}`)));
      });
    } catch (error) {
      child.kill('SIGKILL');
      throw error;
    }
    child.stdout?.resume();
    child.stderr?.resume();
    const proxy = await startProxy(new URL(azuriteUrl), faults);
    const { port } = proxy.address() as AddressInfo;
    return new BlobStore(
      child,
      proxy,
      workspace,
      azuriteUrl,
      `http://127.0.0.1:${port}`,
      containerPrefix,
    );
  }

  private container(name: string) {
    const full = `${this.containerPrefix}-${name}`;
    const client = this.service.getContainerClient(full);
    let created = this.containers.get(full);
    if (!created) {
      created = client.createIfNotExists();
      this.containers.set(full, created);
    }
    return { client, created, full };
  }

  /** A SAS URL for one blob, through the proxy, with only the permissions asked for. */
  async signedUrl(container: string, blob: string, options: SignOptions): Promise<string> {
    const { created, full } = this.container(container);
    await created;
    const expiresOn = new Date(Date.now() + (options.expiresInSeconds ?? 3600) * 1000);
    const sas = generateBlobSASQueryParameters(
      {
        containerName: full,
        blobName: blob,
        permissions: BlobSASPermissions.parse(options.permissions),
        startsOn: new Date(Date.now() - 60_000),
        expiresOn,
        protocol: SASProtocol.HttpsAndHttp,
        contentDisposition: options.contentDisposition,
        contentType: options.contentType,
      },
      this.credential,
    ).toString();
    return `${this.endpoint}/${ACCOUNT}/${full}/${blob.split('/').map(encodeURIComponent).join('/')}?${sas}`;
  }

  async info(container: string, blob: string): Promise<BlobInfo | undefined> {
    const { client, created } = this.container(container);
    await created;
    try {
      const properties = await client.getBlobClient(blob).getProperties();
      return { size: properties.contentLength ?? 0, contentType: properties.contentType };
    } catch (error) {
      if ((error as { statusCode?: number }).statusCode === 404) return undefined;
      throw error;
    }
  }

  async upload(
    container: string,
    blob: string,
    data: Readable,
    contentType: string,
  ): Promise<void> {
    const { client, created } = this.container(container);
    await created;
    await client.getBlockBlobClient(blob).uploadStream(data, 4 * 1024 * 1024, 4, {
      blobHTTPHeaders: { blobContentType: contentType },
    });
  }

  async read(container: string, blob: string): Promise<Buffer> {
    const { client, created } = this.container(container);
    await created;
    return client.getBlobClient(blob).downloadToBuffer();
  }

  async delete(container: string, blob: string): Promise<void> {
    const { client, created } = this.container(container);
    await created;
    await client.getBlobClient(blob).deleteIfExists();
  }

  async stop(): Promise<void> {
    this.proxy.closeAllConnections();
    await new Promise<void>((resolve) => this.proxy.close(() => resolve()));
    if (this.child.exitCode === null) {
      const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
      this.child.kill('SIGKILL');
      await exited;
    }
    await rm(this.workspace, { recursive: true, force: true });
  }
}

/** Forwards every request to Azurite unchanged, unless a fault for `blob` says otherwise. */
async function startProxy(target: URL, faults: Faults): Promise<http.Server> {
  const agent = new http.Agent({ keepAlive: true });
  const server = http.createServer((request, response) => {
    void (async () => {
      const fault = await faults.apply('blob', request, response);
      if (fault === 'handled') return;
      const upstream = http.request(
        {
          host: target.hostname,
          port: target.port,
          method: request.method,
          path: request.url,
          headers: { ...request.headers, host: target.host },
          agent,
        },
        (answer) => {
          response.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(response);
        },
      );
      upstream.on('error', () => response.destroy());
      request.pipe(upstream);
    })();
  });
  server.on('close', () => agent.destroy());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}
