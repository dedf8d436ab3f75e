#!/usr/bin/env node
/** The `seqlab` executable (package.json "bin" → dist/cli/seqlab.js; in development: npm run seqlab -- ARGS). */
import { main } from './main.js';

// Closed pipes and signals: see processIO in main.ts.
process.exitCode = await main(process.argv.slice(2));
