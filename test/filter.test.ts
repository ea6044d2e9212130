import { describe, expect, it } from 'vitest';
import { completions, matches, parseFilter, type FilterRow } from '../src/analysis/filter.js';

const row = (over: Partial<FilterRow & { seq: number }>): FilterRow & { seq: number } => ({
  seq: 1, method: 'tools/call', subject: 'query', direction: 'client->server', kind: 'request', isError: false, latencyMs: 12, rpcId: 7, errorCode: null, httpStatus: 200, ...over,
});
const pass = (f: string, r: FilterRow & { seq: number }, hits?: Map<string, Set<number>>) => matches(r, parseFilter(f).terms, hits);

describe('filter language', () => {
  it('matches method prefixes, tools, directions and kinds', () => {
    expect(pass('method:tools/call', row({}))).toBe(true);
    expect(pass('method:tools', row({}))).toBe(true);
    expect(pass('method:prompts', row({}))).toBe(false);
    expect(pass('tool:que', row({}))).toBe(true);
    expect(pass('dir:s2c', row({}))).toBe(false);
    expect(pass('dir:s2c', row({ direction: 'server->client' }))).toBe(true);
    expect(pass('kind:error', row({ kind: 'response', isError: true }))).toBe(true);
    expect(pass('kind:error', row({ kind: 'invalid' }))).toBe(true);
    expect(pass('kind:request', row({}))).toBe(true);
  });

  it('compares status and latency, with units', () => {
    expect(pass('status:>=400', row({ httpStatus: 406 }))).toBe(true);
    expect(pass('status:>=400', row({ httpStatus: 200 }))).toBe(false);
    expect(pass('status:error', row({ isError: true }))).toBe(true);
    expect(pass('status:ok', row({}))).toBe(true);
    expect(pass('latency:>500ms', row({ latencyMs: 750 }))).toBe(true);
    expect(pass('latency:>1s', row({ latencyMs: 750 }))).toBe(false);
    expect(pass('latency:<=1s', row({ latencyMs: 1000 }))).toBe(true);
    expect(pass('latency:>0', row({ latencyMs: null }))).toBe(false);
  });

  it('negates with !, ANDs terms, and matches free text in columns or payload hits', () => {
    expect(pass('!kind:notification method:tools/call', row({}))).toBe(true);
    expect(pass('!tool:query', row({}))).toBe(false);
    expect(pass('QUERY', row({}))).toBe(true);
    expect(pass('select', row({}))).toBe(false);
    expect(pass('select', row({}), new Map([['select', new Set([1])]]))).toBe(true);
    expect(pass('method:tools/call dir:s2c', row({}))).toBe(false);
  });

  it('says what is wrong with a term, and keeps the good ones', () => {
    const p = parseFilter('dir:up latency:>fast method:ping');
    expect(p.errors).toEqual(['dir:up: dir is c2s or s2c', 'latency:>fast: latency is a number with ms or s, e.g. latency:>500ms']);
    expect(p.terms.map((t) => t.field)).toEqual(['method']);
  });

  it('keeps a valid term whose text begins like an invalid one before it', () => {
    const p = parseFilter('kind:errorx kind:error');
    expect(p.errors).toEqual(['kind:errorx: kind is one of request, notification, response, error, invalid, non-json, log']);
    expect(p.terms).toEqual([{ negate: false, field: 'kind', op: '=', value: 'error' }]);
    expect(pass('kind:errorx kind:error', row({ kind: 'request' }))).toBe(false);
  });

  it('completes the word being typed', () => {
    expect(completions('dir:c2s met', ['tools/call', 'tools/list'])).toEqual(['method:', 'method:tools/call', 'method:tools/list']);
    expect(completions('!ki')).toEqual(['!kind:error', '!kind:request', '!kind:notification']);
    expect(completions('')).toHaveLength(6);
  });
});
