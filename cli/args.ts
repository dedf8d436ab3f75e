/**
 * Flags: each command declares its options in a small typed table; parsing (node:util parseArgs, strict),
 * value checks and `--help` text all come from it. Any mistake is a UsageError: one line naming the flag,
 * what it expects and what it got, exit code 2.
 */
import { parseArgs } from 'node:util';
import * as sl from 'seqlab';

export class UsageError extends Error {
  override name = 'UsageError';
}

export interface OptSpec {
  type: 'string' | 'boolean';
  help: string;
  /** Placeholder in the help, e.g. 'N', 'PATH'. */
  value?: string;
  short?: string;
  /** Shown in the help as "(default: …)". */
  default?: string;
}

export type Spec = Record<string, OptSpec>;

export interface Command {
  name: string;
  summary: string;
  usage: string;
  options: Spec;
  examples?: string[];
  /** Extra paragraphs after the options. */
  notes?: string[];
  run(args: Args, io: IO): Promise<number>;
}

export interface IO {
  stdout: { write(s: string): unknown; isTTY?: boolean; columns?: number };
  stderr: { write(s: string): unknown; isTTY?: boolean; columns?: number };
  /** Lines of standard input (without the newline). */
  stdinLines(): AsyncIterable<string>;
  /**
   * Called with a handler when a command can be interrupted (SIGINT, SIGTERM, SIGHUP); the handler gets the
   * exit code to end with (130, 143, 129). Returns an unsubscribe function.
   */
  onInterrupt(handler: (exitCode: number, signal: string) => void): () => void;
}

/** Options every command takes. */
export const COMMON: Spec = {
  help: { type: 'boolean', short: 'h', help: 'show this help' },
  verbose: { type: 'boolean', help: 'print stack traces of errors' },
};

/** Parsed flags with checked accessors. */
export class Args {
  readonly positionals: string[];
  private readonly values: Record<string, string | boolean | undefined>;
  private readonly cmd: string;

  constructor(cmd: string, values: Record<string, string | boolean | undefined>, positionals: string[]) {
    this.cmd = cmd;
    this.values = values;
    this.positionals = positionals;
  }

  private fail(flag: string, expected: string, got: string): never {
    throw new UsageError(`--${flag}: expected ${expected}, got ${JSON.stringify(got)}. See 'seqlab ${this.cmd} --help'.`);
  }

  has(flag: string): boolean {
    return this.values[flag] !== undefined;
  }

  flag(flag: string): boolean {
    return this.values[flag] === true;
  }

  str(flag: string): string | undefined;
  str(flag: string, fallback: string): string;
  str(flag: string, fallback?: string): string | undefined {
    const v = this.values[flag];
    return typeof v === 'string' ? v : fallback;
  }

  /** An integer ≥ min. */
  int(flag: string, min = 1): number | undefined {
    const s = this.str(flag);
    if (s === undefined) return undefined;
    const v = Number(s);
    if (s.trim() === '' || !Number.isInteger(v) || v < min) this.fail(flag, min === 1 ? 'a positive integer' : `an integer ≥ ${min}`, s);
    return v;
  }

  /** A finite number in [min, max]. */
  num(flag: string, min = -Infinity, max = Infinity): number | undefined {
    const s = this.str(flag);
    if (s === undefined) return undefined;
    const v = Number(s);
    if (s.trim() === '' || !Number.isFinite(v) || v < min || v > max) {
      const range = min === -Infinity ? 'a number' : max === Infinity ? `a number ≥ ${min}` : `a number in [${min}, ${max}]`;
      this.fail(flag, range, s);
    }
    return v;
  }

  /** A probability in (0, 1] (0 would keep nothing). */
  probability(flag: string): number | undefined {
    const s = this.str(flag);
    if (s === undefined) return undefined;
    const v = Number(s);
    if (s.trim() === '' || !(v > 0 && v <= 1)) this.fail(flag, 'a number in (0, 1]', s);
    return v;
  }

  oneOf<T extends string>(flag: string, choices: readonly T[]): T | undefined {
    const s = this.str(flag);
    if (s === undefined) return undefined;
    if (!choices.includes(s as T)) this.fail(flag, `one of ${choices.join(', ')}`, s);
    return s as T;
  }

  /** A duration: 90, 90s, 3m, 1.5h → seconds. */
  seconds(flag: string): number | undefined {
    const s = this.str(flag);
    if (s === undefined) return undefined;
    const m = /^(\d+(?:\.\d+)?)(s|m|h)?$/.exec(s.trim());
    if (!m || Number(m[1]) <= 0) this.fail(flag, 'a duration like 90s, 3m or 1h', s);
    return Number(m![1]) * (m![2] === 'h' ? 3600 : m![2] === 'm' ? 60 : 1);
  }

  list(flag: string): string[] | undefined {
    const s = this.str(flag);
    return s === undefined ? undefined : s.split(',').map((x) => x.trim()).filter((x) => x !== '');
  }

  json(flag: string): Record<string, unknown> | undefined {
    const s = this.str(flag);
    if (s === undefined) return undefined;
    try {
      const v = JSON.parse(s) as unknown;
      if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object');
      return v as Record<string, unknown>;
    } catch {
      return this.fail(flag, 'a JSON object like \'{"hiddenSize": 64}\'', s);
    }
  }

  /** The positional argument at `i`, or the flag `--flag`, required. */
  required(name: string, i: number | null, flag?: string): string {
    const v = (flag !== undefined ? this.str(flag) : undefined) ?? (i !== null ? this.positionals[i] : undefined);
    if (v === undefined) throw new UsageError(`missing ${name}${flag ? ` (--${flag})` : ''}. See 'seqlab ${this.cmd} --help'.`);
    return v;
  }

  /** Refuse extra positionals. */
  maxPositionals(n: number): this {
    if (this.positionals.length > n) throw new UsageError(`unexpected argument ${JSON.stringify(this.positionals[n])}. See 'seqlab ${this.cmd} --help'.`);
    return this;
  }
}

/** Parse `argv` for `cmd`; unknown flags and missing values are UsageErrors. */
export function parse(cmd: Command, argv: string[]): Args {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {};
  for (const [name, o] of Object.entries({ ...COMMON, ...cmd.options })) options[name] = { type: o.type, ...(o.short ? { short: o.short } : {}) };
  try {
    const { values, positionals } = parseArgs({ args: argv, options, strict: true, allowPositionals: true });
    return new Args(cmd.name, values as Record<string, string | boolean | undefined>, positionals);
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (!code?.startsWith('ERR_PARSE_ARGS')) throw e;
    const msg = (e as Error).message;
    const ambiguous = /^Option '(-[\w-]+)' argument is ambiguous/.exec(msg);
    const line = ambiguous
      ? `${ambiguous[1]}: a value starting with '-' must be written ${ambiguous[1]}=VALUE`
      : msg.split('\n')[0]!.replace(/\.?\s*To specify a positional argument.*$/, '').replace(/^Unknown option/, 'unknown option').replace(/\.$/, '');
    throw new UsageError(`${line}. See 'seqlab ${cmd.name} --help'.`);
  }
}

/** `seqlab CMD --help`. */
export function helpText(cmd: Command): string {
  const rows = Object.entries({ ...cmd.options, ...COMMON }).map(([name, o]) => {
    const left = `${o.short ? `-${o.short}, ` : '    '}--${name}${o.value ? ` ${o.value}` : ''}`;
    return [left, `${o.help}${o.default !== undefined ? ` (default: ${o.default})` : ''}`] as const;
  });
  const w = Math.min(30, Math.max(...rows.map(([l]) => l.length)) + 2);
  const lines = [`seqlab ${cmd.name} — ${cmd.summary}`, '', `Usage: ${cmd.usage}`, '', 'Options:'];
  for (const [l, r] of rows) lines.push(l.length >= w ? `  ${l}\n  ${' '.repeat(w)}${r}` : `  ${l.padEnd(w)}${r}`);
  if (cmd.notes?.length) lines.push('', ...cmd.notes);
  if (cmd.examples?.length) lines.push('', 'Examples:', ...cmd.examples.map((e) => `  ${e}`));
  lines.push('', ...environmentHelp());
  return `${lines.join('\n')}\n`;
}

/** The environment variables, as help lines (a bad value is an error naming the variable). */
export function environmentHelp(): string[] {
  const rows = sl.ENVIRONMENT.map((v) => [v.name, `${v.values}: ${v.help}`] as const);
  const w = Math.max(...rows.map(([l]) => l.length)) + 2;
  return ['Environment (checked before a command runs):', ...rows.map(([l, r]) => `  ${l.padEnd(w)}${r}`)];
}
