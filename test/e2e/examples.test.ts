/** The README's usage code, kept as examples/usage.ts, must run as written. */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));

it('examples/usage.ts runs and prints the shapes the README promises', () => {
  const out = execFileSync(process.execPath, ['--import', 'tsx', 'examples/usage.ts'], { cwd: root, encoding: 'utf8' });
  expect(out).toContain('output [ 20, 4, 32 ] h [ 2, 4, 32 ] c [ 2, 4, 32 ]');
  expect(out).toContain('padded [ 3, 10, 32 ] [ 2, 3, 16 ]');
  const loss = Number(/loss (\S+)/.exec(out)![1]);
  expect(Math.abs(loss - Math.log(65))).toBeLessThan(0.3);
});
