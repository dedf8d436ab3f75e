// The reference backend against itself: proves the conformance suite runs and is deterministic.
import { refKernels } from '../../src/kernels/ref/index.js';
import { runKernelConformance } from './conformance.js';

runKernelConformance({ name: 'ref', make: () => refKernels });
