import { randomBytes } from 'node:crypto';

export const newSessionId = (): string => randomBytes(6).toString('hex');
export const newExchangeId = (): string => randomBytes(8).toString('hex');
