import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigurationError } from '../../../shared/errors.js';
import {
  booleanInput,
  enumInput,
  integerInput,
  linesInput,
  parseInputs,
  sizeInput,
  splitLines,
} from '../../../shared/inputs.js';

const schema = z.object({
  name: z.string(),
  count: integerInput(5, 1, 10),
  flag: booleanInput(true),
  mode: enumInput(['a', 'b'] as const, 'a'),
  items: linesInput('a word', (line) => (/^\w+$/.test(line) ? line : undefined)),
});

function catchError(work: () => unknown): unknown {
  try {
    work();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error');
}

const reader = (values: Record<string, string>) => (name: string) => values[name];

describe('parseInputs', () => {
  it('applies defaults for unset inputs', () => {
    expect(parseInputs(schema, reader({ name: 'x' }))).toEqual({
      name: 'x',
      count: 5,
      flag: true,
      mode: 'a',
      items: [],
    });
  });

  it('names a missing required input', () => {
    const error = catchError(() => parseInputs(schema, reader({})));
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as ConfigurationError).problem).toEqual({
      input: 'name',
      problem: 'is required',
    });
    expect((error as Error).message).toBe("Input 'name': is required");
  });

  it('names the input and the expected form for a wrong type', () => {
    expect(() => parseInputs(schema, reader({ name: 'x', count: 'many' }))).toThrow(
      `Input 'count': expected a whole number from 1 to 10, got "many"`,
    );
    expect(() => parseInputs(schema, reader({ name: 'x', flag: 'yes' }))).toThrow(
      `Input 'flag': expected true or false, got "yes"`,
    );
  });

  it('names an unknown enum value', () => {
    expect(() => parseInputs(schema, reader({ name: 'x', mode: 'c' }))).toThrow(
      `Input 'mode': expected one of a|b, got "c"`,
    );
  });

  it('names the bad line of a multi-line input', () => {
    expect(() => parseInputs(schema, reader({ name: 'x', items: 'ok\n\nnot ok' }))).toThrow(
      `Input 'items': line 2: expected a word, got "not ok"`,
    );
  });

  it('keeps what was got apart from our words, escaped and bounded', () => {
    const error = catchError(() =>
      parseInputs(schema, reader({ name: 'x', items: `\u001b[31m${'w'.repeat(1_000_000)}!` })),
    );
    expect((error as ConfigurationError).problem).toMatchObject({
      input: 'items',
      subject: 'line 1',
      expected: 'a word',
    });
    const message = (error as Error).message;
    expect(message).toMatch(/^Input 'items': line 1: expected a word, got "\\u001b\[31mwww/);
    expect(message.length).toBeLessThan(1000);
  });

  it('accepts the YAML boolean spellings @actions/core accepts', () => {
    for (const [text, value] of [
      ['true', true],
      ['True', true],
      ['FALSE', false],
    ] as const) {
      expect(parseInputs(schema, reader({ name: 'x', flag: text })).flag).toBe(value);
    }
  });
});

describe('splitLines', () => {
  it('drops blank lines and comments and trims', () => {
    expect(splitLines('  a \r\n\n# note\nb')).toEqual(['a', 'b']);
  });
});

describe('sizeInput', () => {
  const sizes = z.object({ size: sizeInput(1024) });
  const parse = (size: string | undefined) =>
    parseInputs(sizes, reader(size === undefined ? {} : { size })).size;

  it('reads bytes, and units of 1000 and of 1024', () => {
    expect(parse(undefined)).toBeUndefined();
    expect(parse('2048')).toBe(2048);
    expect(parse('500MB')).toBe(500_000_000);
    expect(parse('4GiB')).toBe(4 * 1024 ** 3);
    expect(parse('1.5 KiB')).toBe(1536);
    expect(parse('2tb')).toBe(2e12);
  });

  it('refuses what is not a size, or less than the least', () => {
    for (const bad of ['lots', '4 GiBs', '-1', '1000', '1e9', 'GiB']) {
      expect(() => parse(bad)).toThrow(
        `Input 'size': expected a size of at least 1024 bytes, in bytes or with a unit (like 4GiB or 500MB), got ${JSON.stringify(bad)}`,
      );
    }
  });
});
