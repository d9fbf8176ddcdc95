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

interface Call {
  world: World;
  operation: string | undefined;
  method: string;
  path: string;
}

function violate(call: Call, problems: Problem[], direction: 'request' | 'response'): void {
  for (const problem of problems) {
    call.world.violations.push({
      operation: call.operation ?? 'unknown',
      direction,
      method: call.method,
      path: call.path,
      field: problem.field,
      message: problem.message,
    });
  }
}

/** The run and job the runtime token names, or the Twirp error to answer. */
function caller(
  world: World,
  request: IncomingMessage,
):
  | { claims: RuntimeClaims; ids: { runBackendId: string; jobBackendId: string }; run: RunState }
  | [TwirpCode, string] {
  const bearer = /^Bearer (.+)$/i.exec(request.headers.authorization ?? '')?.[1];
  if (!bearer) return ['unauthenticated', 'missing the runtime token (Authorization: Bearer)'];
  const claims = verifyRuntimeToken(world.tokenKey, bearer);
  if (typeof claims === 'string') return ['unauthenticated', claims];
  const ids = resultsScope(claims);
  const run = ids && world.state.runs.get(ids.runBackendId);
  if (!ids || !run) return ['permission_denied', 'the runtime token has no Actions.Results scope'];
  return { claims, ids, run };
}

/** The message in snake_case, checked against the method's fields; problems are recorded. */
function readMessage(
  call: Call,
  method: TwirpMethod,
  text: string,
): Record<string, unknown> | [TwirpCode, string] {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    violate(call, [{ field: 'body', message: 'is not JSON' }], 'request');
    return ['malformed', 'the request body is not JSON'];
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
  if (problems.length === 0) return input;
  violate(call, problems, 'request');
  return [
    'invalid_argument',
    `${call.operation}: ${problems.map((p) => `${p.field} ${p.message}`).join('; ')}`,
  ];
}

async function serve(
  world: World,
  services: Record<string, TwirpService>,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const url = new URL(request.url ?? '/', world.urls.results);
  const route = /^\/twirp\/github\.actions\.results\.api\.v1\.(\w+)\/(\w+)$/.exec(url.pathname);
  const method = services[route?.[1] ?? '']?.[route?.[2] ?? ''];
  const call: Call = {
    world,
    operation: method ? `${route?.[1]}/${route?.[2]}` : undefined,
    method: request.method ?? 'POST',
    path: url.pathname,
  };
  response.once('finish', () =>
    world.requests.push({
      origin: 'results',
      method: call.method,
      path: call.path,
      operation: call.operation,
      status: response.statusCode,
    }),
  );
  const chunks: Buffer[] = [];
  for await (const chunk of request as AsyncIterable<Buffer>) chunks.push(chunk);
  if (!method || request.method !== 'POST') {
    violate(call, [{ field: 'route', message: `no Twirp method at ${url.pathname}` }], 'request');
    fail(response, 'bad_route', `no handler for path "${url.pathname}"`);
    return;
  }
  if ((await world.faults.apply(call.operation ?? '', request, response, 'twirp')) === 'handled')
    return;
  if (!(request.headers['content-type'] ?? '').startsWith('application/json')) {
    violate(call, [{ field: 'content-type', message: 'must be application/json' }], 'request');
    fail(response, 'bad_route', 'unexpected Content-Type; this service speaks JSON');
    return;
  }
  const who = caller(world, request);
  if (Array.isArray(who)) return fail(response, ...who);
  const input = readMessage(call, method, Buffer.concat(chunks).toString('utf8'));
  if (Array.isArray(input)) return fail(response, ...input);
  const otherRun =
    method.scope !== 'none' && input.workflow_run_backend_id !== who.ids.runBackendId;
  const otherJob =
    method.scope === 'job' && input.workflow_job_run_backend_id !== who.ids.jobBackendId;
  if (otherRun || otherJob) {
    fail(
      response,
      'permission_denied',
      `${otherRun ? 'workflow_run_backend_id' : 'workflow_job_run_backend_id'} is not the one of the runtime token`,
    );
    return;
  }
  await respond(call, response, method, {
    world,
    claims: who.claims,
    run: who.run,
    jobBackendId: who.ids.jobBackendId,
    message: input,
  });
}

/** Runs the method and answers, its output checked against the method's fields. */
async function respond(
  call: Call,
  response: ServerResponse,
  method: TwirpMethod,
  context: TwirpContext,
): Promise<void> {
  let output: Record<string, unknown>;
  try {
    output = await method.handle(context);
  } catch (error) {
    if (!(error instanceof TwirpError)) throw error;
    fail(response, error.code, error.message);
    return;
  }
  const outputProblems = checkMessage(method.output, output, 'response');
  if (outputProblems.length > 0) {
    violate(call, outputProblems, 'response');
    fail(
      response,
      'internal',
      `emulator answer to ${call.operation} breaks the message: ${outputProblems.map((p) => `${p.field} ${p.message}`).join('; ')}`,
    );
    return;
  }
  answer(response, 200, output);
}
