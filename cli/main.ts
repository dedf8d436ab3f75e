/**
 * The `seqlab` command line: dispatch to a command, and turn every error into one clear line. Bad flags,
 * paths and files (UsageError, or any seqlab error such as a DataError naming a CSV line) exit with code 2
 * and no stack trace unless --verbose; a failed training run exits 1; Ctrl-C during training exits 130.
 */
import { createInterface } from 'node:readline';
import * as sl from 'seqlab';
import { COMMON, UsageError, helpText, parse, type Command, type IO } from './args.js';
import { compare } from './commands/compare.js';
import { convert } from './commands/convert.js';
import { evaluate } from './commands/eval.js';
import { experiment } from './commands/experiment.js';
import { exportCommand } from './commands/export.js';
import { generate } from './commands/generate.js';
import { inspect } from './commands/inspect.js';
import { stream } from './commands/stream.js';
import { train } from './commands/train.js';

export const COMMANDS: readonly Command[] = [train, evaluate, generate, stream, compare, experiment, inspect, convert, exportCommand];

function overview(): string {
  const w = Math.max(...COMMANDS.map((c) => c.name.length)) + 2;
  return [
    `seqlab ${sl.VERSION} — recurrent and state-space sequence models: train, sample, stream, compare`,
    '',
    'Usage: seqlab COMMAND [options]      (seqlab COMMAND --help for its options)',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(w)}${c.summary}`),
    '',
    `Model families: ${sl.models.familyNames().join(', ')}`,
    '',
    'Start with:  seqlab compare   (what npm start runs)   or   seqlab train --model lstm --time 3m',
    '',
  ].join('\n');
}

/** Standard streams and signals of this process. */
export function processIO(): IO {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    stdinLines: () => createInterface({ input: process.stdin, crlfDelay: Infinity }),
    onInterrupt(handler) {
      let count = 0;
      const h = (): void => {
        if (++count > 1) process.exit(130);
        process.stderr.write('\nstopping after this step (Ctrl-C again to quit now)…\n');
        handler();
      };
      process.on('SIGINT', h);
      return () => process.off('SIGINT', h);
    },
  };
}

/** Run `seqlab ARGV…`; returns the exit code. */
export async function main(argv: readonly string[], io: IO = processIO()): Promise<number> {
  const [name, ...rest] = argv;
  const verbose = argv.includes('--verbose');
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const cmd = COMMANDS.find((c) => c.name === rest[0]);
    io.stdout.write(cmd ? helpText(cmd) : overview());
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-v') {
    io.stdout.write(`${sl.VERSION}\n`);
    return 0;
  }
  const cmd = COMMANDS.find((c) => c.name === name);
  try {
    if (!cmd) throw new UsageError(`unknown command ${JSON.stringify(name)}: expected one of ${COMMANDS.map((c) => c.name).join(', ')}. See 'seqlab --help'.`);
    const args = parse(cmd, [...rest]);
    if (args.flag('help')) {
      io.stdout.write(helpText(cmd));
      return 0;
    }
    return await cmd.run(args, io);
  } catch (e) {
    const prefix = `seqlab${cmd ? ` ${cmd.name}` : ''}: `;
    if (e instanceof UsageError || e instanceof sl.SeqlabError) {
      io.stderr.write(`${prefix}${e.message}\n`);
      if (verbose && e.stack) io.stderr.write(`${e.stack}\n`);
      return 2;
    }
    const err = e instanceof Error ? e : new Error(String(e));
    io.stderr.write(`${prefix}internal error: ${err.message}${verbose ? '' : ' (run with --verbose for the stack trace)'}\n`);
    if (verbose && err.stack) io.stderr.write(`${err.stack}\n`);
    return 1;
  }
}

export { COMMON };
