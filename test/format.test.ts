import { describe, expect, it } from 'vitest';
import { clockTime, duration, isoTime } from '../src/cli/format.js';
import { targetText } from '../src/model/target-text.js';
import { Redactor } from '../src/capture/redact.js';
import { shellLine } from '../src/wrap/shell.js';

// The figures every command prints: one duration form, one time zone.

describe('duration', () => {
  it('rounds to whole seconds before splitting minutes from seconds', () => {
    expect(duration(119_600)).toBe('2m00s');
    expect(duration(61_000)).toBe('1m01s');
    expect(duration(59_940)).toBe('59.9s');
    expect(duration(3_599_400)).toBe('59m59s');
  });
});

describe('times', () => {
  it('prints the time of day in UTC with its Z, as sessions and check print dates', () => {
    const ms = Date.UTC(2026, 11, 6, 23, 59, 58, 7);
    expect(clockTime(ms)).toBe('23:59:58.007Z');
    expect(isoTime(ms)).toBe('2026-12-06 23:59:58Z');
  });
});

describe('a stdio session target', () => {
  it('reads as the redacted command line, not percent-encoded', () => {
    const line = shellLine(new Redactor().command(['postgres-mcp', 'postgresql://app:hunter22@db.local/main']));
    const text = targetText({ transport: 'stdio', target: line });
    expect(text).toMatch(/^postgres-mcp 'postgresql:\/\/app:\[redacted:[0-9a-f]{8}\]@db\.local\/main'$/);
    expect(text).not.toContain('hunter22');
    // A target stored percent-encoded (as mcptap before the one redaction module wrote them) reads as text too.
    expect(targetText({ transport: 'stdio', target: "postgres-mcp 'postgresql://app:%5Bredacted%208%20chars%20%23a1b2c3%5D@db.local/main'" }))
      .toBe("postgres-mcp 'postgresql://app:[redacted 8 chars #a1b2c3]@db.local/main'");
    // An HTTP target is a URL and stays one.
    expect(targetText({ transport: 'streamable-http', target: 'http://h/a%20b' })).toBe('http://h/a%20b');
  });
});
