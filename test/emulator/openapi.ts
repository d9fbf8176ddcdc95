import type { ErrorObject } from 'ajv';
import type { Problem } from './contract.js';

/** Reading GitHub's OpenAPI description: schema adaptations, path matching, value coercion. */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/**
 * OpenAPI 3.0 leaves `nullable` without a `type` and uses overlapping `oneOf` branches, which a
 * JSON Schema validator reads differently from GitHub: rewrite both, in place.
 */
export function adaptSchemas(node: Json): void {
  if (Array.isArray(node)) {
    for (const item of node) adaptSchemas(item);
    return;
  }
  if (node === null || typeof node !== 'object') return;
  for (const value of Object.values(node)) adaptSchemas(value);
  if (Array.isArray(node.oneOf)) {
    node.anyOf = node.oneOf;
    delete node.oneOf;
  }
  if (node.nullable === true && node.type === undefined) {
    const rest: JsonObject = { ...node };
    delete rest.nullable;
    for (const key of Object.keys(node)) delete node[key];
    node.anyOf = [{ type: 'null' }, rest];
  }
}

/**
 * What github.com sends that its description leaves out, each seen in public reports: a release
 * asset whose upload failed part-way stays listed in state `starter` (for instance
 * concourse/github-release-resource#116), which the description's enum (`uploaded`, `open`) lacks.
 */
export function knownOmissions(spec: JsonObject): void {
  const schemas = (spec.components as JsonObject).schemas as JsonObject;
  const asset = (schemas['release-asset'] as JsonObject).properties as JsonObject;
  const state = asset.state as JsonObject;
  state.enum = [...(state.enum as Json[]), 'starter'];
}

/** Parameters whose values hold slashes on GitHub: git refs and tag names. */
const slashed = new Set(['{ref}', '{tag}']);

export function matchSegments(
  template: string[],
  path: string[],
): Record<string, string> | undefined {
  if (path.length < template.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < template.length; i++) {
    const segment = template[i] ?? '';
    const last = i === template.length - 1;
    const greedy = last && slashed.has(segment);
    const value = greedy ? path.slice(i).join('/') : path[i];
    if (value === undefined || value === '') return undefined;
    if (segment.startsWith('{')) {
      let decoded: string;
      try {
        decoded = decodeURIComponent(value);
      } catch {
        return undefined;
      }
      params[segment.slice(1, -1)] = decoded;
    } else if (segment !== value) {
      return undefined;
    }
    if (last && !greedy && path.length !== template.length) return undefined;
  }
  return params;
}

export function coerce(raw: string, schema: JsonObject | undefined): unknown {
  const type = schema?.type;
  if (type === 'integer' || type === 'number') {
    return /^-?\d+(\.\d+)?$/.test(raw) ? Number(raw) : raw;
  }
  if (type === 'boolean') return raw === 'true' ? true : raw === 'false' ? false : raw;
  return raw;
}

export function describe(error: ErrorObject, root: string): Problem {
  const path = error.instancePath
    .split('/')
    .slice(1)
    .map((part) => (/^\d+$/.test(part) ? `[${part}]` : `.${part.replace(/~1/g, '/')}`))
    .join('');
  let field = `${root}${path}`;
  let message = error.message ?? 'is invalid';
  if (error.keyword === 'required') {
    field = `${field}.${String((error.params as { missingProperty: string }).missingProperty)}`;
    message = 'is required';
  } else if (error.keyword === 'enum') {
    message = `must be one of ${(error.params as { allowedValues: unknown[] }).allowedValues.join(', ')}`;
  } else if (error.keyword === 'additionalProperties') {
    field = `${field}.${String((error.params as { additionalProperty: string }).additionalProperty)}`;
    message = 'is not allowed';
  }
  return { field, message };
}
