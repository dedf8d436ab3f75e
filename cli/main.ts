/**
 * The `seqlab` command line: dispatch to a command, and turn every error into one clear line. Bad flags,
 * paths and files (UsageError, or any seqlab error such as a DataError naming a CSV line) exit with code 2
 * and no stack trace unless --verbose; a failed training run exits 1; SIGINT (Ctrl-C), SIGTERM and SIGHUP during
 * training save a checkpoint and exit 130, 143 and 129.
 */
import { createInterface } from 'node:readline';
import * as sl from 'seqlab';
import { COMMON, UsageError, environmentHelp, helpText, parse, type Command, type IO } from './args.js';
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
    ...environmentHelp(),
    '',
  ].join('\n');
}

/** The signals that stop training with a saved checkpoint, and their exit codes (128 + the signal number). */
export const STOP_SIGNALS = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 } as const;
/** A stop signal repeated within this many ms of the first is the same request (see processIO). */
export const REPEAT_WINDOW_MS = 1000;

/**
 * A process stream whose writes become no-ops once its reader is gone (EPIPE: `| head`, a killed `| tee`;
 * EIO: a hung-up terminal). Node reports the failed write asynchronously, so `destroyed` is checked too.
 */
function guarded(stream: NodeJS.WriteStream, onBroken: () => void): IO['stdout'] {
  let broken = false;
  const gone = (): void => {
    if (broken) return;
    broken = true;
    onBroken();
  };
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE' || e.code === 'EIO' || e.code === 'ERR_STREAM_DESTROYED') gone();
    else throw e;
  });
  return {
    write(s: string): void {
      if (broken) return;
      stream.write(s);
      if (stream.destroyed) gone();
    },
    get isTTY(): boolean { return stream.isTTY === true; },
    get columns(): number { return stream.columns ?? 80; },
  };
}

/**
 * Standard streams and signals of this process. While a command is interruptible (training), SIGINT,
 * SIGTERM and SIGHUP ask it to stop and save (a second one, a second or more later, quits at once), and a closed stdout or stderr
 * only silences the output. Otherwise a closed stdout ends the program quietly, as for any Unix tool.
 */
export function processIO(): IO {
  const handlers = new Set<(exitCode: number, signal: string) => void>();
  const stderr = guarded(process.stderr, () => undefined);
  const stdout = guarded(process.stdout, () => {
    if (handlers.size === 0) process.exit(0);
  });
  return {
    stdout,
    stderr,
    stdinLines: () => createInterface({ input: process.stdin, crlfDelay: Infinity }),
    onInterrupt(handler) {
      let first: number | undefined;
      const listeners = Object.entries(STOP_SIGNALS).map(([signal, code]) => {
        const h = (): void => {
          if (first !== undefined) {
            // Wrappers (npm run, npx, tsx) relay the signal a process-group kill already sent us: an echo, not a second request.
            if (Date.now() - first < REPEAT_WINDOW_MS) return;
            process.exit(code); // temp files are removed by seqlab/node's exit hook
          }
          first = Date.now();
          stderr.write(`\n${signal === 'SIGINT' ? '' : `${signal}: `}saving a checkpoint and stopping after this step (${signal === 'SIGINT' ? 'Ctrl-C' : 'a second signal'} again to quit now)…\n`);
          handler(code, signal);
        };
        process.on(signal, h);
        return [signal, h] as const;
      });
      handlers.add(handler);
      return () => {
        handlers.delete(handler);
        for (const [signal, h] of listeners) process.off(signal, h);
      };
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
    sl.checkEnvironment(); // before any work: a mistyped SEQLAB_* is one line, not a surprise later
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
