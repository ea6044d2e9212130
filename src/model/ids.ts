import { randomBytes } from 'node:crypto';

export const newSessionId = (): string => randomBytes(6).toString('hex');

// Exchange ids: a random prefix per process (several proxies may share a database) and a counter,
// so the forwarding path does not draw random bytes for every request.
const prefix = randomBytes(4).toString('hex');
let counter = 0;
export const newExchangeId = (): string => prefix + (counter++ >>> 0).toString(16).padStart(8, '0');
