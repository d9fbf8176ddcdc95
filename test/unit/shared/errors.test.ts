import { describe, expect, it } from 'vitest';
import { ConfigurationError, formatError, printable } from '../../../shared/errors.js';

describe('ConfigurationError', () => {
  it('carries its data and is formatted as one line naming the input', () => {
    const error = new ConfigurationError({
      input: 'keep',
      expected: 'a whole number from 2 to 100',
      got: '"abc"',
    });
    expect(error.problem).toEqual({
      input: 'keep',
      expected: 'a whole number from 2 to 100',
      got: '"abc"',
    });
    expect(formatError(error)).toBe(
      `Input 'keep': expected a whole number from 2 to 100, got "abc"`,
    );
  });

  it('puts the subject, the problem and the hint in that order', () => {
    const error = new ConfigurationError({
      subject: 'host deploy@web-1',
      problem: 'the deploy lock is held by alice (run 7)',
      hint: 'set lock-timeout to wait for it',
    });
    expect(formatError(error)).toBe(
      'host deploy@web-1: the deploy lock is held by alice (run 7); set lock-timeout to wait for it',
    );
  });

  it('escapes control characters and bounds untrusted text', () => {
    const error = new ConfigurationError({
      input: 'path',
      subject: `entry a\u0000b\u001b[31mred\nline`,
      problem: 'is a fifo',
      got: 'x'.repeat(1_000_000),
    });
    const line = formatError(error);
    // eslint-disable-next-line no-control-regex
    expect(line).not.toMatch(/[\u0000-\u001f]/);
    expect(line).toContain('entry a\\x00b\\x1b[31mred\\x0aline');
    expect(line.length).toBeLessThanOrEqual(1500);
  });
});

describe('formatError', () => {
  it('marks what is not the user’s mistake as unexpected, on one bounded line', () => {
    expect(formatError(new Error('boom\n  at x'))).toBe('Unexpected error: boom at x');
    expect(formatError(new TypeError('bad'))).toBe('TypeError: bad');
    const long = formatError(new Error(`\u001b${'y'.repeat(100_000)}`));
    expect(long.length).toBeLessThanOrEqual('Unexpected error: '.length + 1500);
    expect(long).toMatch(/^Unexpected error: \\x1by/);
  });

  it('prints our own words unchanged', () => {
    expect(printable('release v3 is current')).toBe('release v3 is current');
  });
});
