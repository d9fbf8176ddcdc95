import type { IncomingMessage, ServerResponse } from 'node:http';

/** What goes wrong, for the reliability tests. */
export type Fault =
  /** Answer late, then normally. */
  | { kind: 'delay'; ms: number }
  /** Answer with this status (a 5xx, usually) and the surface's error body. */
  | { kind: 'status'; status: number; message?: string }
  /** Drop the connection without an answer. */
  | { kind: 'reset' }
  /**
   * GitHub's rate-limit answers: `primary` is 403/429 with `x-ratelimit-remaining: 0` and a reset
   * time; `secondary` is 403/429 with `retry-after` and the "secondary rate limit" message.
   */
  | { kind: 'rate-limit'; type?: 'primary' | 'secondary'; status?: 403 | 429; retryAfter?: number }
  /**
   * Committed, then failed (REST only): the request takes effect, then its answer is lost, as a
   * server error (default 502) or a dropped connection (`as: 'reset'`).
   */
  | { kind: 'lost'; as?: number | 'reset' }
  /** An asset upload that fails part-way (REST only): a `starter` asset is left holding the name. */
  | { kind: 'starter' };

export interface FaultOptions {
  /** How many matching requests fail; default 1. `Infinity` for all of them. */
  times?: number;
  /** Matching requests let through before the first failure; default 0. */
  after?: number;
}

export interface FaultHandle {
  readonly target: string;
  /** Requests this fault has hit so far. */
  readonly hits: number;
  remove(): void;
}

/** Which answer shape a fault takes: GitHub REST JSON, Twirp JSON, or Azure Storage XML. */
export type Surface = 'rest' | 'twirp' | 'blob';

interface Rule {
  target: string;
  fault: Fault;
  times: number;
  after: number;
  seen: number;
  hits: number;
}

/**
 * Faults injected per route. A target is a REST operation ID (`repos/create-release`) or its
 * `METHOD /template` form, a Twirp method (`ArtifactService/CreateArtifact`,
 * `CacheService/GetCacheEntryDownloadURL`), `blob` for blob storage, or `*` for every REST and
 * Twirp request.
 */
export class Faults {
  private rules: Rule[] = [];
  /** Faults that act once the request has taken effect, by the answer they replace. */
  private readonly afterEffect = new WeakMap<ServerResponse, Fault>();

  inject(target: string, fault: Fault, options: FaultOptions = {}): FaultHandle {
    const rule: Rule = {
      target,
      fault,
      times: options.times ?? 1,
      after: options.after ?? 0,
      seen: 0,
      hits: 0,
    };
    this.rules.push(rule);
    return {
      target,
      get hits() {
        return rule.hits;
      },
      remove: () => {
        this.rules = this.rules.filter((r) => r !== rule);
      },
    };
  }

  clear(): void {
    this.rules = [];
  }

  /** The `lost` or `starter` fault that applies to this answer, if one does. */
  pending(response: ServerResponse): Fault | undefined {
    return this.afterEffect.get(response);
  }

  /**
   * Applies the first live fault whose target is one of `keys`. Returns `handled` when the fault
   * answered (or dropped) the request, `continue` when the request should be served.
   */
  async apply(
    keys: string | string[],
    request: IncomingMessage,
    response: ServerResponse,
    surface: Surface = 'blob',
  ): Promise<'handled' | 'continue'> {
    const wanted = Array.isArray(keys) ? keys : [keys];
    const rule = this.rules.find(
      (r) =>
        (wanted.includes(r.target) || (r.target === '*' && surface !== 'blob')) && r.hits < r.times,
    );
    if (!rule) return 'continue';
    rule.seen++;
    if (rule.seen <= rule.after) return 'continue';
    rule.hits++;
    const fault = rule.fault;
    switch (fault.kind) {
      case 'delay':
        await new Promise((resolve) => setTimeout(resolve, fault.ms));
        return 'continue';
      case 'lost':
      case 'starter':
        this.afterEffect.set(response, fault);
        return 'continue';
      case 'reset':
        request.socket.destroy();
        return 'handled';
      case 'status':
        answer(response, surface, fault.status, fault.message ?? statusMessage(fault.status), {});
        return 'handled';
      case 'rate-limit': {
        const retryAfter = fault.retryAfter ?? 1;
        const status = fault.status ?? 403;
        if (surface !== 'rest') {
          answer(response, surface, 429, 'Rate limit exceeded', {
            'retry-after': String(retryAfter),
          });
        } else if (fault.type === 'secondary') {
          answer(
            response,
            surface,
            status,
            'You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID.',
            { 'retry-after': String(retryAfter) },
          );
        } else {
          const reset = Math.ceil(Date.now() / 1000) + retryAfter;
          answer(response, surface, status, 'API rate limit exceeded for installation.', {
            'x-ratelimit-limit': '5000',
            'x-ratelimit-remaining': '0',
            'x-ratelimit-used': '5000',
            'x-ratelimit-reset': String(reset),
            'x-ratelimit-resource': 'core',
          });
        }
        return 'handled';
      }
    }
  }
}

function statusMessage(status: number): string {
  return (
    {
      500: 'Internal Server Error',
      502: 'Bad Gateway',
      503: 'Service Unavailable',
      504: 'Gateway Timeout',
    }[status] ?? `Injected fault ${status}`
  );
}

const twirpCodes: Record<number, string> = {
  400: 'invalid_argument',
  401: 'unauthenticated',
  403: 'permission_denied',
  404: 'not_found',
  409: 'already_exists',
  429: 'resource_exhausted',
  500: 'internal',
  503: 'unavailable',
};

/** Replaces an answer whose request took effect: GitHub committed, the client hears nothing. */
export function loseAnswer(
  request: IncomingMessage,
  response: ServerResponse,
  fault: Extract<Fault, { kind: 'lost' }>,
): void {
  if (fault.as === 'reset') {
    request.socket.destroy();
    return;
  }
  const status = fault.as ?? 502;
  answer(response, 'rest', status, statusMessage(status), {});
}

function answer(
  response: ServerResponse,
  surface: Surface,
  status: number,
  message: string,
  headers: Record<string, string>,
): void {
  let body: string;
  let type: string;
  if (surface === 'rest') {
    body = JSON.stringify({
      message,
      documentation_url: 'https://docs.github.com/rest',
      status: String(status),
    });
    type = 'application/json; charset=utf-8';
  } else if (surface === 'twirp') {
    body = JSON.stringify({ code: twirpCodes[status] ?? 'unknown', msg: message });
    type = 'application/json';
  } else {
    const code = status === 503 ? 'ServerBusy' : status === 500 ? 'InternalError' : 'Injected';
    body = `<?xml version="1.0" encoding="utf-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`;
    type = 'application/xml';
  }
  response.writeHead(status, { 'content-type': type, ...headers });
  response.end(body);
}
