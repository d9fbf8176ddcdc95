import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import {
  adaptSchemas,
  coerce,
  describe,
  knownOmissions,
  matchSegments,
  type Json,
  type JsonObject,
} from './openapi.js';

/**
 * GitHub's published OpenAPI description (@octokit/openapi), used to match every request to an
 * operation and to check requests and responses against the documented schemas.
 */

interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required?: boolean;
  schema?: JsonObject;
}

export interface Operation {
  /** GitHub's operation ID, e.g. `repos/create-release`. */
  id: string;
  method: string;
  /** The path template, e.g. `/repos/{owner}/{repo}/releases`. */
  template: string;
  documentationUrl: string;
  /** Only uploads.github.com serves this operation (release asset uploads). */
  uploads: boolean;
}

export interface RouteMatch {
  operation: Operation;
  /** Path parameters, percent-decoded, as strings. */
  params: Record<string, string>;
}

interface Template {
  template: string;
  segments: string[];
  operations: Map<string, Operation>;
}

export interface Problem {
  /** Where: `path.release_id`, `query.per_page`, `body.tag_name`, `response.assets[0].size`. */
  field: string;
  message: string;
}

const specFile = createRequire(import.meta.url).resolve(
  '@octokit/openapi/generated/api.github.com.json',
);

/** ajv-formats is CommonJS with a default export; under nodenext its type is the module object. */
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

const uncheckedFormats = ['int32', 'int64', 'double', 'repo.nwo', 'binary', 'timestamp'];

let shared: Contract | undefined;

/** One parsed description per process: emulators started one after another share it. */
export function githubContract(): Contract {
  shared ??= new Contract();
  return shared;
}

function pointer(...parts: string[]): string {
  return '#/' + parts.map((part) => part.replace(/~/g, '~0').replace(/\//g, '~1')).join('/');
}

export class Contract {
  private readonly spec: JsonObject;
  private readonly templates: Template[] = [];
  private readonly byId = new Map<string, Operation>();
  private ajv: Ajv | undefined;
  private readonly validators = new Map<string, ValidateFunction>();

  constructor() {
    this.spec = JSON.parse(readFileSync(specFile, 'utf8')) as JsonObject;
    knownOmissions(this.spec);
    const paths = this.spec.paths as Record<string, Record<string, JsonObject>>;
    for (const [template, item] of Object.entries(paths)) {
      const operations = new Map<string, Operation>();
      for (const [method, op] of Object.entries(item)) {
        if (typeof op.operationId !== 'string') continue;
        const servers = op.servers as { url: string }[] | undefined;
        const operation: Operation = {
          id: op.operationId,
          method: method.toUpperCase(),
          template,
          documentationUrl:
            (op.externalDocs as { url?: string } | undefined)?.url ??
            'https://docs.github.com/rest',
          uploads: servers?.some((server) => server.url.includes('uploads.github.com')) ?? false,
        };
        operations.set(operation.method, operation);
        this.byId.set(operation.id, operation);
      }
      this.templates.push({ template, segments: template.split('/').slice(1), operations });
    }
  }

  operation(id: string): Operation | undefined {
    return this.byId.get(id);
  }

  /**
   * The operation for a method and path. Literal segments win over parameters, and a last
   * parameter may hold slashes (`git/ref/tags/a/b`, `releases/tags/app/env/v1`) as on GitHub.
   */
  match(method: string, pathname: string): RouteMatch | 'method-not-allowed' | undefined {
    const segments = pathname.replace(/\/+$/, '').split('/').slice(1);
    let best: { template: Template; params: Record<string, string>; score: string } | undefined;
    for (const template of this.templates) {
      const params = matchSegments(template.segments, segments);
      if (!params) continue;
      const score = template.segments.map((s) => (s.startsWith('{') ? '0' : '1')).join('');
      const ranked = (template.segments.length === segments.length ? '1' : '0') + score;
      if (!best || ranked > best.score) best = { template, params, score: ranked };
    }
    if (!best) return undefined;
    const operation = best.template.operations.get(method.toUpperCase());
    if (!operation) return 'method-not-allowed';
    return { operation, params: best.params };
  }

  private parameters(operation: Operation): Parameter[] {
    const paths = this.spec.paths as Record<string, Record<string, JsonObject>>;
    const op = paths[operation.template]?.[operation.method.toLowerCase()];
    const list = (op?.parameters ?? []) as JsonObject[];
    return list.map((entry) => this.resolve(entry) as unknown as Parameter);
  }

  private resolve(node: JsonObject): JsonObject {
    let current = node;
    while (typeof current.$ref === 'string') current = this.at(current.$ref) as JsonObject;
    return current;
  }

  private compiler(): Ajv {
    if (!this.ajv) {
      this.ajv = new Ajv({ strict: false, allErrors: true, logger: false });
      addFormats(this.ajv);
      for (const format of uncheckedFormats) this.ajv.addFormat(format, true);
      // GitHub sends "" for an unset URL documented with `format: uri` and `default: ""`.
      const uri = this.ajv.formats.uri;
      if (typeof uri === 'function') {
        this.ajv.addFormat('uri', (value: string) => value === '' || uri(value));
      }
    }
    return this.ajv;
  }

  /**
   * Compiles the schema at `ref` (a JSON pointer into the description) with only the component
   * schemas it reaches: handing ajv the whole 13 MB description costs a second per process.
   */
  private validator(key: string, ref: string): ValidateFunction {
    const cached = this.validators.get(key);
    if (cached) return cached;
    const target = this.at(ref);
    const components = (this.spec.components as JsonObject).schemas as JsonObject;
    const reached: JsonObject = {};
    const collect = (node: Json): void => {
      if (Array.isArray(node)) {
        for (const item of node) collect(item);
      } else if (node !== null && typeof node === 'object') {
        const target = typeof node.$ref === 'string' ? node.$ref : undefined;
        const name = target?.startsWith('#/components/schemas/')
          ? target.slice('#/components/schemas/'.length)
          : undefined;
        if (name !== undefined && !(name in reached)) {
          reached[name] = components[name] ?? {};
          collect(reached[name]);
        }
        for (const value of Object.values(node)) collect(value);
      }
    };
    collect(target);
    const bundle = structuredClone({ allOf: [target], components: { schemas: reached } });
    adaptSchemas(bundle);
    const compiled = this.compiler().compile(bundle);
    this.validators.set(key, compiled);
    return compiled;
  }

  private at(ref: string): Json {
    let node: Json = this.spec;
    for (const part of ref.slice(2).split('/')) {
      node = (node as JsonObject)[part.replace(/~1/g, '/').replace(/~0/g, '~')] ?? null;
    }
    return node;
  }

  /** Checks path parameters, query and JSON body; returns the coerced query and path values. */
  checkRequest(
    operation: Operation,
    params: Record<string, string>,
    query: URLSearchParams,
    body: unknown,
    bodyIsJson: boolean,
  ): { problems: Problem[]; query: Record<string, unknown>; params: Record<string, unknown> } {
    const problems: Problem[] = [];
    const declared = this.parameters(operation);
    const coercedQuery: Record<string, unknown> = {};
    const coercedParams: Record<string, unknown> = {};
    for (const parameter of declared) {
      if (parameter.in !== 'path' && parameter.in !== 'query') continue;
      const raw = parameter.in === 'path' ? params[parameter.name] : query.get(parameter.name);
      if (raw === undefined || raw === null) {
        if (parameter.required) {
          problems.push({ field: `${parameter.in}.${parameter.name}`, message: 'is required' });
        }
        continue;
      }
      const value = coerce(raw, parameter.schema);
      (parameter.in === 'path' ? coercedParams : coercedQuery)[parameter.name] = value;
      if (parameter.schema) {
        const problem = this.checkValue(parameter.schema, value);
        if (problem) {
          problems.push({
            field: `${parameter.in}.${parameter.name}`,
            message: `${problem} (got ${JSON.stringify(raw)})`,
          });
        }
      }
    }
    const paginated = this.documentsLink(operation);
    for (const name of new Set(query.keys())) {
      if (paginated && (name === 'per_page' || name === 'page')) continue;
      if (!declared.some((p) => p.in === 'query' && p.name === name)) {
        problems.push({ field: `query.${name}`, message: 'is not a parameter of this operation' });
      }
    }

    const paths = this.spec.paths as Record<string, Record<string, JsonObject>>;
    const op = paths[operation.template]?.[operation.method.toLowerCase()];
    const requestBody = op?.requestBody ? this.resolve(op.requestBody as JsonObject) : undefined;
    const content = requestBody?.content as Record<string, JsonObject> | undefined;
    const jsonSchema = content?.['application/json']?.schema;
    if (jsonSchema && bodyIsJson) {
      if (body === undefined) {
        if (requestBody?.required === true) {
          problems.push({ field: 'body', message: 'is required' });
        }
      } else {
        const ref = pointer(
          'paths',
          operation.template,
          operation.method.toLowerCase(),
          'requestBody',
          'content',
          'application/json',
          'schema',
        );
        problems.push(...this.run(`${operation.id} request`, ref, body, 'body'));
        problems.push(...this.unknownFields(jsonSchema as JsonObject, body));
      }
    } else if (bodyIsJson && body !== undefined && !content) {
      problems.push({ field: 'body', message: 'this operation takes no request body' });
    }
    return { problems, query: coercedQuery, params: coercedParams };
  }

  /** A list whose 200 documents a Link header is paginated, even where per_page is not listed. */
  private documentsLink(operation: Operation): boolean {
    const paths = this.spec.paths as Record<string, Record<string, JsonObject>>;
    const op = paths[operation.template]?.[operation.method.toLowerCase()];
    const ok = (op?.responses as Record<string, JsonObject> | undefined)?.['200'];
    const headers = ok ? (this.resolve(ok).headers as JsonObject | undefined) : undefined;
    return headers?.Link !== undefined;
  }

  /**
   * GitHub ignores body fields it does not know; a client that sends one has a typo or a wrong
   * idea of the API, which would fail silently on github.com. Report it.
   */
  private unknownFields(schema: JsonObject, body: unknown): Problem[] {
    const resolved = this.resolve(schema);
    const properties = resolved.properties as JsonObject | undefined;
    if (!properties || typeof body !== 'object' || body === null || Array.isArray(body)) return [];
    if (resolved.additionalProperties !== undefined && resolved.additionalProperties !== false) {
      return [];
    }
    return Object.keys(body)
      .filter((key) => !(key in properties))
      .map((key) => ({ field: `body.${key}`, message: 'is not a documented field' }));
  }

  private checkValue(schema: JsonObject, value: unknown): string | undefined {
    if (schema.$ref === undefined && schema.type !== undefined) {
      const ok =
        (schema.type === 'integer' && Number.isInteger(value)) ||
        (schema.type === 'number' && typeof value === 'number' && !Number.isNaN(value)) ||
        (schema.type === 'boolean' && typeof value === 'boolean') ||
        (schema.type === 'string' && typeof value === 'string') ||
        schema.type === 'array';
      if (!ok) return `must be ${JSON.stringify(schema.type)}`;
      if (Array.isArray(schema.enum) && !schema.enum.includes(value as Json)) {
        return `must be one of ${schema.enum.map((v) => JSON.stringify(v)).join(', ')}`;
      }
    }
    return undefined;
  }

  /** Checks a response body against the schema documented for its status. */
  checkResponse(operation: Operation, status: number, body: unknown): Problem[] {
    const paths = this.spec.paths as Record<string, Record<string, JsonObject>>;
    const op = paths[operation.template]?.[operation.method.toLowerCase()];
    const responses = (op?.responses ?? {}) as Record<string, JsonObject>;
    const documented = responses[String(status)];
    if (!documented) {
      if (status >= 400) return this.checkError(status, body);
      return [
        {
          field: 'response.status',
          message: `${status} is not a documented status (documented: ${Object.keys(responses).join(', ')})`,
        },
      ];
    }
    const resolved = this.resolve(documented);
    const content = resolved.content as Record<string, JsonObject> | undefined;
    const schema = content?.['application/json']?.schema;
    if (!schema) {
      // Many error statuses are documented without a body; GitHub still sends its error shape.
      if (status >= 400) return this.checkError(status, body);
      if (body !== undefined && status !== 302) {
        return [{ field: 'response', message: `status ${status} documents no body` }];
      }
      return [];
    }
    const ref =
      typeof documented.$ref === 'string'
        ? `${documented.$ref}/content/application~1json/schema`
        : pointer(
            'paths',
            operation.template,
            operation.method.toLowerCase(),
            'responses',
            String(status),
            'content',
            'application/json',
            'schema',
          );
    return this.run(`${operation.id} ${status}`, ref, body, 'response');
  }

  /** Undocumented error statuses (401, 403, 429, 5xx) still carry GitHub's error shape. */
  private checkError(status: number, body: unknown): Problem[] {
    const schema = status === 422 ? 'validation-error' : 'basic-error';
    return this.run(`error ${schema}`, pointer('components', 'schemas', schema), body, 'response');
  }

  private run(key: string, ref: string, value: unknown, root: string): Problem[] {
    const validate = this.validator(key, ref);
    if (validate(value)) return [];
    return (validate.errors ?? []).slice(0, 5).map((error) => describe(error, root));
  }
}
