// The one place a TensorFlow.js backend is loaded: tfjs-node (native libtensorflow) when it loads,
// otherwise WebAssembly (worker/detector.ts puts the onnx backend between the two). Never the pure-JS
// cpu backend: it is 20–40× slower, so refusing to start beats serving at that speed silently.
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import type * as FaceApiModule from '@vladmandic/face-api';
import type { Logger } from '../shared/logger.js';

export type FaceApi = typeof FaceApiModule;
export type TfBackendName = 'tensorflow' | 'wasm';
export type TfBackendPreference = 'auto' | 'tfjs-node' | 'wasm';

/** The parts of tfjs used here (face-api's .d.ts inlines an incomplete copy of tfjs's types). */
export interface TfCore {
  setWasmPaths(prefix: string): void;
  setBackend(name: string): Promise<boolean>;
  ready(): Promise<void>;
  getBackend(): string;
  memory(): { numTensors: number };
}
export const tfOf = (faceapi: FaceApi): TfCore => faceapi.tf as unknown as TfCore;

const require = createRequire(import.meta.url);

function loadNative(): FaceApi {
  require('@tensorflow/tfjs-node');
  return require('@vladmandic/face-api/dist/face-api.node.js') as FaceApi;
}

async function loadWasm(): Promise<FaceApi> {
  const faceapi = require('@vladmandic/face-api/dist/face-api.node-wasm.js') as FaceApi;
  const tf = tfOf(faceapi);
  // A local directory, with the trailing slash tfjs needs; never a URL.
  tf.setWasmPaths(
    dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm')) + '/',
  );
  // The wasm module installs process handlers that re-throw, turning any unhandled rejection into
  // a crash: remove whatever it adds.
  const events = ['uncaughtException', 'unhandledRejection'];
  const listeners = (e: string) =>
    process.listeners(e as 'uncaughtException') as ((...a: unknown[]) => void)[];
  const before = events.map((e) => new Set(listeners(e)));
  await tf.setBackend('wasm');
  await tf.ready();
  events.forEach((e, i) => {
    for (const l of listeners(e)) if (!before[i]!.has(l)) process.removeListener(e, l);
  });
  return faceapi;
}

/** face-api on tfjs-node, or undefined (with the reason) when tfjs-node does not load here. */
export async function tryLoadNativeFaceApi(): Promise<{ faceapi?: FaceApi; reason?: string }> {
  try {
    const faceapi = loadNative();
    await tfOf(faceapi).ready();
    if (tfOf(faceapi).getBackend() !== 'tensorflow')
      return { reason: 'tfjs-node loaded without its backend' };
    return { faceapi };
  } catch (err) {
    return { reason: String(err).split('\n')[0] };
  }
}

/** face-api on the WebAssembly backend (always available: it ships inside an npm package). */
export async function loadWasmFaceApi(log: Logger): Promise<FaceApi> {
  return (await loadFaceApi('wasm', log)).faceapi;
}

export async function loadFaceApi(
  pref: TfBackendPreference,
  log: Logger,
): Promise<{ faceapi: FaceApi; backend: TfBackendName }> {
  if (pref !== 'wasm') {
    const native = await tryLoadNativeFaceApi();
    if (native.faceapi) {
      log.info({ backend: 'tensorflow' }, 'TensorFlow.js backend ready');
      return { faceapi: native.faceapi, backend: 'tensorflow' };
    }
    if (pref === 'tfjs-node') throw new Error(`TF_BACKEND=tfjs-node but it does not load: ${native.reason}`);
    log.info({ reason: native.reason }, 'tfjs-node not available, using WebAssembly');
  }
  const faceapi = await loadWasm();
  const active = tfOf(faceapi).getBackend();
  if (active !== 'wasm') {
    throw new Error(`TensorFlow.js backend is "${active}": refusing to run face detection on it`);
  }
  log.info({ backend: active }, 'TensorFlow.js backend ready');
  return { faceapi, backend: active };
}
