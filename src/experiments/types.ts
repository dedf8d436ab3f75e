/**
 * What every experiment shares: its options, the result object (also the JSON file), and the context an
 * experiment's `run` gets (size, seed, progress). Claims are computed from rows by the experiment's code.
 */

/** 'tiny' is for tests (seconds), 'quick' for CI (`--quick`, all nine ≤ 10 min on 2 cores), 'full' for the docs. */
export type ExperimentSize = 'tiny' | 'quick' | 'full';

export interface ExperimentProgress {
  experiment: string;
  /** Units of work done and in all (models × lengths × seeds …, whatever the experiment counts). */
  done: number;
  total: number;
  label: string;
}

export interface ExperimentOptions {
  /** Same as size: 'quick'. */
  quick?: boolean;
  /** Default 'full' (or 'quick' when `quick` is set). */
  size?: ExperimentSize;
  /** Base seed of every model and data draw (default 1337). */
  seed?: number;
  /** Kernel threads (setThreads); the `sequential` experiment measures 1 and 2 regardless. */
  threads?: number;
  /** Tiny Shakespeare's text, needed by `gru-vs-lstm` (the CLI reads the bundled copy). */
  text?: string;
  onProgress?: (p: ExperimentProgress) => void;
}

export interface Claim {
  text: string;
  holds: boolean;
  evidence: string;
  /** When it does not hold: what at this scale stands in its way (present only then). */
  why?: string;
}

export type Row = Record<string, string | number | boolean | null>;

export interface ExperimentResult {
  name: string;
  quick: boolean;
  size: ExperimentSize;
  seed: number;
  config: Record<string, unknown>;
  rows: Row[];
  /** Derived numbers per model (e-folding distances, ratios …) when the rows are a long series. */
  summary?: Row[];
  claims: Claim[];
  /** What was measured and how, and why a claim did or did not hold — paragraphs for the Markdown. */
  notes: string[];
  /** A summary table for the terminal and the Markdown (the rows can be long). */
  table: { head: string[]; body: string[][] };
  backend: string;
  seconds: number;
  /** Where it ran, when the caller knows (the CLI fills it: cores, CPU, Node, load average before and after). */
  environment?: { cpus: number; cpu: string; node: string; loadAverage: [number, number] };
}

export interface Context {
  size: ExperimentSize;
  seed: number;
  text: string | undefined;
  /** Count one unit of work as done (label: what comes next). */
  tick(label: string): void;
  /** Set how many units the whole experiment has. */
  plan(total: number): void;
  /** Say what is happening inside the current unit (e.g. the training step), without counting it. */
  status(label: string): void;
}

/** What claims are judged from: the measured rows, the derived summary, and the configuration. */
export interface Measured {
  rows: Row[];
  summary?: Row[] | undefined;
  config: Record<string, unknown>;
}

export type ExperimentBody = Omit<ExperimentResult, 'name' | 'quick' | 'size' | 'seed' | 'backend' | 'seconds' | 'claims'>;

export interface Experiment {
  name: string;
  title: string;
  /** The claim's source, for the Markdown heading. */
  source: string;
  /** Measure: rows, summary, configuration, notes and the summary table. */
  run(ctx: Context): Promise<ExperimentBody> | ExperimentBody;
  /** The claims, computed from the measurements only (so anyone can re-judge a result's JSON). */
  judge(m: Measured): Claim[];
}
