import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Problem } from '../contract.js';
import { resultsScope, verifyRuntimeToken, type RuntimeClaims } from '../runtime-token.js';
import type { RunState } from '../state.js';
import type { World } from '../world.js';

/**
 * The Actions results services as the runner reaches them: Twirp over JSON at
 * ACTIONS_RESULTS_URL, `POST /twirp/github.actions.results.api.v1.<Service>/<Method>`, errors as
 * `{code, msg}` with Twirp's HTTP statuses (the clients retry a body that is not JSON).
 */

export type TwirpCode =
  | 'invalid_argument'
  | 'malformed'
  | 'unauthenticated'
  | 'permission_denied'
  | 'not_found'
  | 'already_exists'
  | 'failed_precondition'
  | 'resource_exhausted'
  | 'internal'
  | 'unavailable'
  | 'bad_route';

const statuses: Record<TwirpCode, number> = {
  invalid_argument: 400,
  malformed: 400,
  unauthenticated: 401,
  permission_denied: 403,
  not_found: 404,
  bad_route: 404,
  already_exists: 409,
  failed_precondition: 412,
  resource_exhausted: 429,
  internal: 500,
  unavailable: 503,
};

export class TwirpError extends Error {
  constructor(
    readonly code: TwirpCode,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Field types of a message, in proto3 JSON: int64 travels as a decimal string (a number is
 * accepted too), wrappers (StringValue, Int64Value) as their bare value, Timestamp as RFC 3339.
 */
export type FieldType =
  'string' | 'int32' | 'int64' | 'bool' | 'timestamp' | 'string[]' | 'object' | 'object[]';

export type MessageSpec = Record<string, FieldType>;

export interface TwirpContext {
  world: World;
  claims: RuntimeClaims;
  /** The run and job the token is for. */
  run: RunState;
  jobBackendId: string;
  message: Record<string, unknown>;
}

export interface TwirpMethod {
  input: MessageSpec;
  /** Required fields: an empty string or a missing one is refused. */
  required: string[];
  output: MessageSpec;
  /**
   * What the request's backend IDs must match in the token: `job` for writes of this job, `run`
   * for reads within the run (another job's artifact), `none` for the cache.
   */
  scope: 'job' | 'run' | 'none';
  handle(context: TwirpContext): Promise<Record<string, unknown>> | Record<string, unknown>;
}

export type TwirpService = Record<string, TwirpMethod>;

function snake(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

function checkField(type: FieldType, value: unknown): boolean {
  switch (type) {
    case 'string':
      return typeof value === 'string';
    case 'bool':
      return typeof value === 'boolean';
    case 'int32':
      return Number.isInteger(value);
    case 'int64':
      return (typeof value === 'string' && /^-?\d+$/.test(value)) || Number.isInteger(value);
    case 'timestamp':
      return typeof value === 'string' && !Number.isNaN(Date.parse(value));
    case 'string[]':
      return Array.isArray(value) && value.every((item) => typeof item === 'string');
    case 'object':
      return typeof value === 'object' && value !== null && !Array.isArray(value);
    case 'object[]':
      return Array.isArray(value) && value.every((item) => checkField('object', item));
  }
}

export function checkMessage(spec: MessageSpec, message: unknown, root: string): Problem[] {
  if (typeof message !== 'object' || message === null || Array.isArray(message)) {
    return [{ field: root, message: 'must be a JSON object' }];
  }
  const problems: Problem[] = [];
  for (const [key, value] of Object.entries(message)) {
    const type = spec[key];
    if (!type) problems.push({ field: `${root}.${key}`, message: 'is not a field of the message' });
    else if (!checkField(type, value)) {
      problems.push({
        field: `${root}.${key}`,
        message: `must be ${type} (got ${JSON.stringify(value)})`,
      });
    }
  }
  return problems;
}

function answer(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(text)),
  });
  response.end(text);
}

function fail(response: ServerResponse, code: TwirpCode, msg: string): void {
  answer(response, statuses[code], { code, msg });
}

export function twirpListener(
  world: World,
  services: Record<string, TwirpService>,
): (request: IncomingMessage, response: ServerResponse) => void {
  return (request, response) => {
    serve(world, services, request, response).catch((error: unknown) => {
      console.error('emulator: Twirp handler failed', error);
      if (!response.headersSent) fail(response, 'internal', String(error));
      else response.destroy();
    });
  };
}

async function serve(
  world: World,
  services: Record<string, TwirpService>,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const url = new URL(request.url ?? '/', world.urls.results);
  const route = /^\/twirp\/github\.actions\.results\.api\.v1\.(\w+)\/(\w+)$/.exec(url.pathname);
  const service = route?.[1] ?? '';
  const name = route?.[2] ?? '';
  const method = services[service]?.[name];
  const operation = method ? `${service}/${name}` : undefined;
  response.once('finish', () =>
    world.requests.push({
      origin: 'results',
      method: request.method ?? 'POST',
      path: url.pathname,
      operation,
      status: response.statusCode,
    }),
  );
  const violation = (problems: Problem[], direction: 'request' | 'response') => {
    for (const problem of problems) {
      world.violations.push({
        operation: operation ?? 'unknown',
        direction,
        method: request.method ?? 'POST',
        path: url.pathname,
        field: problem.field,
        message: problem.message,
      });
    }
  };

  const chunks: Buffer[] = [];
  for await (const chunk of request as AsyncIterable<Buffer>) chunks.push(chunk);
  if (!method || request.method !== 'POST') {
    violation([{ field: 'route', message: `no Twirp method at ${url.pathname}` }], 'request');
    fail(response, 'bad_route', `no handler for path "${url.pathname}"`);
    return;
  }
  if ((await world.faults.apply(operation ?? '', request, response, 'twirp')) === 'handled') {
    return;
  }
  if (!(request.headers['content-type'] ?? '').startsWith('application/json')) {
    violation([{ field: 'content-type', message: 'must be application/json' }], 'request');
    fail(response, 'bad_route', 'unexpected Content-Type; this service speaks JSON');
    return;
  }

  const bearer = /^Bearer (.+)$/i.exec(request.headers.authorization ?? '')?.[1];
  if (!bearer) {
    fail(response, 'unauthenticated', 'missing the runtime token (Authorization: Bearer)');
    return;
  }
  const claims = verifyRuntimeToken(world.tokenKey, bearer);
  if (typeof claims === 'string') {
    fail(response, 'unauthenticated', claims);
    return;
  }
  const ids = resultsScope(claims);
  const run = ids && world.state.runs.get(ids.runBackendId);
  if (!ids || !run) {
    fail(response, 'permission_denied', 'the runtime token has no Actions.Results scope');
    return;
  }

  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    violation([{ field: 'body', message: 'is not JSON' }], 'request');
    fail(response, 'malformed', 'the request body is not JSON');
    return;
  }
  const message =
    typeof raw === 'object' && raw !== null && !Array.isArray(raw)
      ? Object.fromEntries(Object.entries(raw).map(([key, value]) => [snake(key), value]))
      : raw;
  const problems = checkMessage(method.input, message, 'request');
  const input = message as Record<string, unknown>;
  for (const field of method.required) {
    if (input[field] === undefined || input[field] === '') {
      problems.push({ field: `request.${field}`, message: 'is required' });
    }
  }
  if (problems.length > 0) {
    violation(problems, 'request');
    fail(
      response,
      'invalid_argument',
      `${operation}: ${problems.map((p) => `${p.field} ${p.message}`).join('; ')}`,
    );
    return;
  }
  const otherRun = method.scope !== 'none' && input.workflow_run_backend_id !== ids.runBackendId;
  const otherJob = method.scope === 'job' && input.workflow_job_run_backend_id !== ids.jobBackendId;
  if (otherRun || otherJob) {
    fail(
      response,
      'permission_denied',
      `${otherRun ? 'workflow_run_backend_id' : 'workflow_job_run_backend_id'} is not the one of the runtime token`,
    );
    return;
  }

  let output: Record<string, unknown>;
  try {
    output = await method.handle({
      world,
      claims,
      run,
      jobBackendId: ids.jobBackendId,
      message: input,
    });
  } catch (error) {
    if (!(error instanceof TwirpError)) throw error;
    fail(response, error.code, error.message);
    return;
  }
  const outputProblems = checkMessage(method.output, output, 'response');
  if (outputProblems.length > 0) {
    violation(outputProblems, 'response');
    fail(
      response,
      'internal',
      `emulator answer to ${operation} breaks the message: ${outputProblems.map((p) => `${p.field} ${p.message}`).join('; ')}`,
    );
    return;
  }
  answer(response, 200, output);
}
