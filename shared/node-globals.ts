import path from 'node:path';
import { fileURLToPath } from 'node:url';

// ssh2's asm.js Poly1305 (compiled by emscripten) reads CommonJS's __dirname when it loads;
// in this ES module bundle there is none, so give it the bundle's directory.
const scope = globalThis as { __dirname?: string };
scope.__dirname ??= path.dirname(fileURLToPath(import.meta.url));
