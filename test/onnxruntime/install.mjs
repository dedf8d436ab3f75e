// Installs onnxruntime-node into test/onnxruntime (its own folder, from its lockfile, --ignore-scripts: the
// package's install script reaches for a host that is not needed here; the CPU binary ships in the package).
// `npm test` runs this first (pretest); it does nothing when the package is already there.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dir = fileURLToPath(new URL('./', import.meta.url));
if (!existsSync(new URL('node_modules/onnxruntime-node/package.json', import.meta.url))) {
  console.error('test/onnxruntime: installing onnxruntime-node (npm ci --ignore-scripts) for the ONNX export tests…');
  execFileSync('npm', ['ci', '--ignore-scripts', '--no-audit', '--no-fund', '--prefix', dir], { stdio: 'inherit' });
}
