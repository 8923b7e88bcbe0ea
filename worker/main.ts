// Worker process entry point: `npm run worker`.
import { availableParallelism } from 'node:os';
import sharp from 'sharp';
import { ConfigError, loadConfig } from '../shared/config.js';
import { createEmojiRenderer, verifyEmojiAssets } from '../shared/emojiRenderer.js';
import { createLogger } from '../shared/logger.js';
import { startWorker, type RunningWorker } from './worker.js';

async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger('worker', config.LOG_LEVEL);
  process.on('unhandledRejection', (err) => log.error({ err: String(err) }, 'unhandled rejection'));
  await verifyEmojiAssets();
  // Like the onnx backend's threads: this machine's cores shared out between its worker processes,
  // so N workers on N cores do not each start N libvips threads.
  const localWorkers = config.WORKERS === 'auto' ? availableParallelism() : Math.max(1, config.WORKERS);
  sharp.concurrency(Math.max(1, Math.floor(availableParallelism() / localWorkers)));
  // libvips' operation cache only helps when the same image is processed again: never here.
  sharp.cache(false);
  const renderer = createEmojiRenderer();

  // Signals are taken from the start: a worker told to stop while it starts (the model loading, its
  // registry entry already written) stops once started, leaving the registry as it found it.
  const started: { worker?: RunningWorker } = {};
  let stopAsked: string | undefined;
  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    const running = started.worker;
    if (!running) {
      stopAsked = signal;
      return;
    }
    closing = true;
    log.info({ signal }, 'shutting down after the active job');
    running.close().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err: String(err) }, 'error while closing');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));

  const running = (started.worker = await startWorker({
    config,
    log,
    renderEmoji: (name, size, angle) => renderer.render(name, size, angle),
  }));
  log.info(
    {
      id: running.info.id,
      backend: running.detector.backend,
      detector: running.detector.name,
      // A threaded detector has close(): INFERENCE_THREAD's answer, for whoever reads the log.
      inferenceThread: 'close' in running.detector,
      weights: running.detector.weights,
      concurrency: config.WORKER_CONCURRENCY,
    },
    'worker ready',
  );
  if (stopAsked) shutdown(stopAsked);
}

main().catch((err: unknown) => {
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(1);
});
