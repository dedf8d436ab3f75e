#!/usr/bin/env node
/** The `seqlab` executable (package.json "bin" → dist/cli/seqlab.js; in development: npm run seqlab -- ARGS). */
import { main } from './main.js';

// `seqlab generate … | head`: a closed pipe ends the program quietly, as for any Unix tool.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});
process.exitCode = await main(process.argv.slice(2));
