import { describe, expect, it } from 'vitest';
import { legacyEndpointOf, legacySessionIdOf } from '../src/wire/legacy-endpoint.js';

// The legacy session id has one reader: both SDKs' spellings, relative or absolute, in an endpoint event or a URL.
describe('legacySessionIdOf', () => {
  it.each([
    ['/message?sessionId=6f1c', '6f1c'],
    ['/messages/?session_id=9a0b4e2c1d', '9a0b4e2c1d'],
    ['http://127.0.0.1:8000/messages/?session_id=abc', 'abc'],
    ['/s/pg/messages/?session_id=abc&x=1', 'abc'],
    ['  /message?sessionId=s1\r\n', 's1'],
    ['/mcp', null],
    ['/messages/?session_id=', null],
    ['http://[bad', null],
  ])('%s → %s', (input, id) => {
    expect(legacySessionIdOf(input)).toBe(id);
  });

  it('keeps how the server spelled it, for a mock that serves what it recorded', () => {
    expect(legacyEndpointOf('/messages/?session_id=abc')).toEqual({ path: '/messages/', param: 'session_id', id: 'abc' });
    expect(legacyEndpointOf('/message?sessionId=abc')).toEqual({ path: '/message', param: 'sessionId', id: 'abc' });
  });
});
