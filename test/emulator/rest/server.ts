import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Operation, Problem, RouteMatch } from '../contract.js';
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

/** One request and its answer, with what every step records. */
interface Exchange {
  world: World;
  origin: 'api' | 'uploads';
  request: IncomingMessage;
  response: ServerResponse;
  method: string;
  url: URL;
  token: string | undefined;
}

function record(exchange: Exchange, operation: string | undefined): void {
  const { world, response, token } = exchange;
  response.once('finish', () =>
    world.requests.push({
      origin: exchange.origin,
      method: exchange.method,
      path: exchange.url.pathname + exchange.url.search,
      operation,
      status: response.statusCode,
      ...(token ? { token } : {}),
    }),
  );
}

function violation(
  exchange: Exchange,
  operation: string,
  problems: Problem[],
  direction: 'request' | 'response',
): void {
  for (const problem of problems) {
    exchange.world.violations.push({
      operation,
      direction,
      method: exchange.method,
      path: exchange.url.pathname,
      field: problem.field,
      message: problem.message,
    });
  }
}

/** The operation a request is for, or a 404 (recorded as a violation) when GitHub has none there. */
async function route(exchange: Exchange): Promise<RouteMatch | undefined> {
  const { world, method, url, request, response, origin } = exchange;
  const match = world.contract.match(method, url.pathname);
  const operation = typeof match === 'object' ? match.operation : undefined;
  const problem =
    operation === undefined
      ? {
          field: 'route',
          message: `${method} ${url.pathname} is not an operation of GitHub's REST API`,
        }
      : operation.uploads !== (origin === 'uploads')
        ? {
            field: 'origin',
            message: operation.uploads
              ? `${operation.id} is served by uploads.github.com: send it to the release's upload_url`
              : `${operation.id} is not served by uploads.github.com`,
          }
        : undefined;
  record(exchange, operation?.id);
  if (
    operation &&
    (await world.faults.apply(
      [operation.id, `${operation.method} ${operation.template}`],
      request,
      response,
      'rest',
    )) === 'handled'
  ) {
    return undefined;
  }
  if (problem || typeof match !== 'object') {
    violation(
      exchange,
      operation?.id ?? 'unknown',
      [problem ?? { field: 'route', message: 'unknown' }],
      'request',
    );
    await drain(request);
    send(response, 404, NOT_FOUND);
    return undefined;
  }
  return match;
}

/** The JSON body, checked with the path and query against the contract; undefined once answered. */
async function checkedRequest(exchange: Exchange, match: RouteMatch) {
  const { world, request, response, url } = exchange;
  const { operation } = match;
  let body: unknown;
  if (!operation.uploads) {
    const raw = await readBody(request);
    try {
      body = raw.length > 0 ? JSON.parse(raw.toString('utf8')) : undefined;
    } catch {
      violation(exchange, operation.id, [{ field: 'body', message: 'is not JSON' }], 'request');
      send(response, 400, {
        message: 'Problems parsing JSON',
        documentation_url: operation.documentationUrl,
      });
      return undefined;
    }
  }
  const checked = world.contract.checkRequest(
    operation,
    match.params,
    url.searchParams,
    body,
    !operation.uploads,
  );
  if (checked.problems.length === 0) return { ...checked, body };
  violation(exchange, operation.id, checked.problems, 'request');
  if (operation.uploads) await drain(request);
  send(response, 422, {
    message: `Invalid request to ${operation.id}: ${describe(checked.problems)}`,
    documentation_url: operation.documentationUrl,
  });
  return undefined;
}

type Checked = NonNullable<Awaited<ReturnType<typeof checkedRequest>>>;

/** Authenticates, counts the Actions token's request, runs the handler; errors in GitHub's shape. */
async function answerFor(
  exchange: Exchange,
  operation: Operation,
  checked: Checked,
  handlers: Record<string, RestHandler>,
): Promise<{ answer: RestAnswer; budget: Record<string, string> }> {
  const { world, request, token } = exchange;
  let budget: Record<string, string> = {};
  // An answer that closes the connection leaves an upload's body unread (one too large to take).
  let closing = false;
  try {
    const actor = authenticate(world, token);
    const repository = findRepository(world, checked.params, actor);
    if (actor?.type === 'Bot') budget = spendRequest(repository);
    if (!isRead(exchange.method) && !actor) throw new HttpError(401, 'Requires authentication');
    const handler = handlers[operation.id];
    if (!handler) {
      violation(
        exchange,
        operation.id,
        [{ field: 'route', message: `${operation.id} is documented but not emulated` }],
        'request',
      );
      throw new HttpError(404, 'Not Found');
    }
    const fault = world.faults.pending(exchange.response);
    const { params, query, body } = checked;
    const answer = await handler({
      world,
      operation,
      params,
      query,
      body,
      request,
      url: exchange.url,
      actor,
      repository,
      fault,
    });
    return { answer, budget };
  } catch (error) {
    if (!(error instanceof HttpError)) throw error;
    closing = error.headers?.connection === 'close';
    const body = {
      message: error.message,
      documentation_url: operation.documentationUrl,
      ...(error.errors ? { errors: error.errors } : {}),
      ...(error.status === 401 || error.status === 404 ? { status: String(error.status) } : {}),
    };
    return {
      answer: { status: error.status, body, headers: { ...budget, ...error.headers } },
      budget,
    };
  } finally {
    if (operation.uploads && !request.readableEnded && !closing) await drain(request);
  }
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
  const exchange = {
    world,
    origin,
    request,
    response,
    method,
    url,
    token: tokenOf(request.headers.authorization),
  };
  const match = await route(exchange);
  if (!match) return;
  const checked = await checkedRequest(exchange, match);
  if (!checked) return;
  const { operation } = match;
  const { answer, budget } = await answerFor(exchange, operation, checked, handlers);
  const problems = world.contract.checkResponse(operation, answer.status, answer.body);
  if (problems.length > 0) {
    violation(exchange, operation.id, problems, 'response');
    send(response, 500, {
      message: `Emulator answer to ${operation.id} (${answer.status}) breaks GitHub's contract: ${describe(problems)}`,
      documentation_url: operation.documentationUrl,
    });
    return;
  }
  const fault = world.faults.pending(response);
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
