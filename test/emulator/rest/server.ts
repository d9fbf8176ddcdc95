import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Operation, Problem } from '../contract.js';
import { loseAnswer, type Fault } from '../faults.js';
import { spendRequest } from '../rules.js';
import type { Actor, RepositoryState } from '../state.js';
import { HttpError, type World } from '../world.js';

export interface RestContext {
  world: World;
  operation: Operation;
  /** Path parameters, coerced to the documented types. */
  params: Record<string, unknown>;
  query: Record<string, unknown>;
  /** The parsed JSON body; upload bodies stay unread in `request`. */
  body: unknown;
  request: IncomingMessage;
  url: URL;
  actor: Actor | undefined;
  repository: RepositoryState;
  /** A fault that acts after the request takes effect (`starter` is the upload's to play). */
  fault: Fault | undefined;
}

export interface RestAnswer {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export type RestHandler = (context: RestContext) => RestAnswer | Promise<RestAnswer>;

/** Who makes a change: writes are refused without a token before any handler runs. */
export function writer(context: RestContext): Actor {
  if (!context.actor) throw new HttpError(401, 'Requires authentication');
  return context.actor;
}

const NOT_FOUND = { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' };
const MAX_JSON_BODY = 10 * 1024 * 1024;

/**
 * Serves GitHub's REST API on one origin (`api` or `uploads`): each request is matched to an
 * operation of the OpenAPI description and checked, then handled, and the answer is checked before
 * it is sent. A broken contract either way is recorded and answered with an error that names the
 * operation and the field, so the client under test fails where the mistake is.
 */
export function restListener(
  world: World,
  origin: 'api' | 'uploads',
  handlers: Record<string, RestHandler>,
): (request: IncomingMessage, response: ServerResponse) => void {
  return (request, response) => {
    serve(world, origin, handlers, request, response).catch((error: unknown) => {
      console.error('emulator: REST handler failed', error);
      if (!response.headersSent) send(response, 500, { message: String(error) });
      else response.destroy();
    });
  };
}

async function serve(
  world: World,
  origin: 'api' | 'uploads',
  handlers: Record<string, RestHandler>,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const method = request.method ?? 'GET';
  const url = new URL(request.url ?? '/', world.urls[origin]);
  const token = tokenOf(request.headers.authorization);
  const record = (operation: string | undefined) =>
    response.once('finish', () =>
      world.requests.push({
        origin,
        method,
        path: url.pathname + url.search,
        operation,
        status: response.statusCode,
        ...(token ? { token } : {}),
      }),
    );
  const violation = (operation: string, problems: Problem[], direction: 'request' | 'response') => {
    for (const problem of problems) {
      world.violations.push({
        operation,
        direction,
        method,
        path: url.pathname,
        field: problem.field,
        message: problem.message,
      });
    }
  };

  const match = world.contract.match(method, url.pathname);
  if (match === undefined || match === 'method-not-allowed') {
    record(undefined);
    violation(
      'unknown',
      [
        {
          field: 'route',
          message: `${method} ${url.pathname} is not an operation of GitHub's REST API`,
        },
      ],
      'request',
    );
    await drain(request);
    send(response, 404, NOT_FOUND);
    return;
  }
  const { operation } = match;
  record(operation.id);
  const documentation = operation.documentationUrl;
  const keys = [operation.id, `${operation.method} ${operation.template}`];
  if ((await world.faults.apply(keys, request, response, 'rest')) === 'handled') return;

  if (operation.uploads !== (origin === 'uploads')) {
    violation(
      operation.id,
      [
        {
          field: 'origin',
          message: operation.uploads
            ? `${operation.id} is served by uploads.github.com: send it to the release's upload_url`
            : `${operation.id} is not served by uploads.github.com`,
        },
      ],
      'request',
    );
    await drain(request);
    send(response, 404, NOT_FOUND);
    return;
  }

  let body: unknown;
  let bodyIsJson = false;
  if (!operation.uploads) {
    const raw = await readBody(request);
    if (raw.length > 0) {
      bodyIsJson = true;
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        violation(operation.id, [{ field: 'body', message: 'is not JSON' }], 'request');
        send(response, 400, { message: 'Problems parsing JSON', documentation_url: documentation });
        return;
      }
    } else {
      bodyIsJson = true;
    }
  }
  const checked = world.contract.checkRequest(
    operation,
    match.params,
    url.searchParams,
    body,
    bodyIsJson,
  );
  if (checked.problems.length > 0) {
    violation(operation.id, checked.problems, 'request');
    if (operation.uploads) await drain(request);
    send(response, 422, {
      message: `Invalid request to ${operation.id}: ${describe(checked.problems)}`,
      documentation_url: documentation,
    });
    return;
  }

  let answer: RestAnswer;
  let budget: Record<string, string> = {};
  const fault = world.faults.pending(response);
  try {
    const actor = authenticate(world, token);
    const repository = findRepository(world, checked.params, actor);
    if (actor?.type === 'Bot') budget = spendRequest(repository);
    if (!isRead(method) && !actor) {
      throw new HttpError(401, 'Requires authentication');
    }
    const handler = handlers[operation.id];
    if (!handler) {
      violation(
        operation.id,
        [{ field: 'route', message: `${operation.id} is documented but not emulated` }],
        'request',
      );
      throw new HttpError(404, 'Not Found');
    }
    answer = await handler({
      world,
      operation,
      params: checked.params,
      query: checked.query,
      body,
      request,
      url,
      actor,
      repository,
      fault,
    });
  } catch (error) {
    if (!(error instanceof HttpError)) throw error;
    answer = {
      status: error.status,
      body: {
        message: error.message,
        documentation_url: documentation,
        ...(error.errors ? { errors: error.errors } : {}),
        ...(error.status === 401 || error.status === 404 ? { status: String(error.status) } : {}),
      },
      headers: { ...budget, ...error.headers },
    };
  } finally {
    if (operation.uploads && !request.readableEnded) await drain(request);
  }

  const problems = world.contract.checkResponse(operation, answer.status, answer.body);
  if (problems.length > 0) {
    violation(operation.id, problems, 'response');
    send(response, 500, {
      message: `Emulator answer to ${operation.id} (${answer.status}) breaks GitHub's contract: ${describe(problems)}`,
      documentation_url: documentation,
    });
    return;
  }
  if (fault?.kind === 'lost') {
    loseAnswer(request, response, fault);
    return;
  }
  send(response, answer.status, answer.body, { ...budget, ...answer.headers });
}

function describe(problems: Problem[]): string {
  return problems.map((problem) => `${problem.field} ${problem.message}`).join('; ');
}

function isRead(method: string): boolean {
  return method === 'GET' || method === 'HEAD';
}

/** `token X`, `Bearer X`, or Basic with the token as password, as GitHub accepts. */
function tokenOf(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const [scheme = '', value = ''] = header.trim().split(/\s+/, 2);
  if (scheme.toLowerCase() === 'basic') {
    return Buffer.from(value, 'base64').toString('utf8').split(':').slice(1).join(':');
  }
  return ['token', 'bearer'].includes(scheme.toLowerCase()) ? value : '';
}

function authenticate(world: World, token: string | undefined): Actor | undefined {
  if (token === undefined) return undefined;
  const actor = world.state.tokens.get(token);
  if (!actor) throw new HttpError(401, 'Bad credentials');
  return actor;
}

function findRepository(
  world: World,
  params: Record<string, unknown>,
  actor: Actor | undefined,
): RepositoryState {
  const repository = world.state.repository(String(params.owner), String(params.repo));
  // GitHub hides a private repository from strangers behind the same 404 as a missing one.
  if (!repository || (repository.visibility === 'private' && !actor)) {
    throw new HttpError(404, 'Not Found');
  }
  return repository;
}

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_JSON_BODY) throw new HttpError(413, 'Request body too large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

async function drain(request: IncomingMessage): Promise<void> {
  if (request.readableEnded) return;
  request.resume();
  await new Promise<void>((resolve) => {
    request.once('end', resolve);
    request.once('close', resolve);
  });
}

export function send(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const reset = String(Math.ceil(Date.now() / 1000) + 3600);
  const common: Record<string, string> = {
    'x-github-request-id': randomBytes(8).toString('hex').toUpperCase(),
    'x-github-media-type': 'github.v3; format=json',
    'x-ratelimit-limit': '5000',
    'x-ratelimit-remaining': '4999',
    'x-ratelimit-reset': reset,
    'x-ratelimit-used': '1',
    'x-ratelimit-resource': 'core',
    ...headers,
  };
  if (body === undefined || status === 204 || status === 302) {
    response.writeHead(status, common);
    response.end();
    return;
  }
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(text)),
    ...common,
  });
  response.end(text);
}
