#!/usr/bin/env -S node --max-semi-space-size=2
import { Command, CommanderError } from 'commander';
import { EXIT } from '../errors.js';
import { fail } from './common.js';
import { registerCommands } from './registry.js';

// Piped into head or less that quit early: the reader has what it wanted, which is no error. Unless a
// command relays to stdout and handles its reader leaving itself (wrap: the capture must still be written).
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE' && process.stdout.listenerCount('error') > 1) return;
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});

const program = new Command();
program
  .name('mcptap')
  .description('See, record, diff, replay and check the traffic between an MCP client and an MCP server or gateway.')
  .version('0.1.0')
  // Usage errors in our one-line form: "mcptap: <what is wrong> (see --help)".
  .configureOutput({ outputError: (str, write) => write(`mcptap: ${str.trim().replace(/^error: /, '')} (see --help)\n`) })
  // `wrap` passes the options after its command to the child: the root's own options come first.
  .enablePositionalOptions()
  .exitOverride();
registerCommands(program);
program.commands.forEach((c) => c.exitOverride());

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // Commander has already printed its one-line message.
    process.exitCode = err.exitCode === 0 ? EXIT.ok : EXIT.usage;
  } else {
    fail(err);
  }
}
