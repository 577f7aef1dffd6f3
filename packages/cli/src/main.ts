// The `laminate` executable: runs the command line, then exits with its status
// once stdout has taken everything written to it.
import { run } from './cli.js';

process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  // A closed pipe (`laminate keys S | head`) ends the command quietly.
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

const status = await run(process.argv.slice(2));
// Exiting at once would cut off output a pipe has not taken yet; an empty write
// calls back after everything before it. Exiting explicitly (rather than waiting
// for the event loop to empty) keeps an idle stdin or timer from holding the process.
process.stdout.write('', () => process.exit(status));
