// Entry point of the API process.
import { ConfigError, loadConfig, type Config } from '../shared/config.js';
import { createLogger } from '../shared/logger.js';
import { startApi } from './server.js';

let config: Config;
try {
  config = loadConfig(process.env);
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(err.message);
    process.exit(1);
  }
  throw err;
}

const log = createLogger('api', config.LOG_LEVEL);
const api = await startApi(config, log).catch((err: unknown) => {
  log.fatal({ err }, 'could not start the API');
  process.exit(1);
});
log.info({ url: api.url }, `API listening on ${api.url}`);
if (api.metricsUrl) log.info({ url: api.metricsUrl }, `metrics on ${api.metricsUrl}/metrics`);
if (config.REQUIRE_API_KEY && !config.ADMIN_TOKEN) {
  const open = api.metricsUrl ? '/workers answers' : '/metrics and /workers answer';
  log.warn(`REQUIRE_API_KEY is set but ADMIN_TOKEN is not: ${open} anyone`);
}

let stopping = false;
const stop = (signal: string) => {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, 'shutting down');
  // Backstop: whatever hangs, the process ends a little after the drain budget.
  setTimeout(
    () => {
      log.error('shutdown did not finish in time; exiting');
      process.exit(1);
    },
    (config.SHUTDOWN_TIMEOUT_SECONDS + 5) * 1000,
  ).unref();
  api.close().then(
    () => process.exit(0),
    (err: unknown) => {
      log.error({ err }, 'error during shutdown');
      process.exit(1);
    },
  );
};
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
