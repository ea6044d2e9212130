/** Bad input from a person: printed as one line, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export const EXIT = {
  ok: 0,
  /** A check or diff found something. */
  found: 1,
  usage: 2,
} as const;
