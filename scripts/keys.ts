// `npm run keys -- create NAME | list | revoke NAME`: the API keys clients send as
// `Authorization: Bearer <key>` (or `X-API-Key`). `create` prints the key once, alone on the last line
// of stdout (KEY=$(npm run -s keys -- create app | tail -n 1)); Redis keeps only its SHA-256.
// Talks to the Redis at REDIS_URL under KEY_PREFIX, like the API it serves.
import { ApiKeyError, createApiKey, listApiKeys, revokeApiKey } from '../shared/apiKeys.js';
import { ConfigError, loadConfig } from '../shared/config.js';
import { redisKeys } from '../shared/keys.js';
import { createRedis, waitReady } from '../shared/redis.js';

const USAGE = 'usage: npm run keys -- create NAME | list | revoke NAME';

async function main(argv: string[]): Promise<number> {
  const [command, name, ...rest] = argv;
  if (!command || rest.length > 0 || (command !== 'list' && !name) || (command === 'list' && name)) {
    console.error(USAGE);
    return 2;
  }
  const config = loadConfig();
  const keys = redisKeys(config.KEY_PREFIX);
  const redis = createRedis(config.REDIS_URL, 'client');
  try {
    await waitReady(redis, 5000).catch(() => {
      throw new ApiKeyError(`no Redis answers at ${config.REDIS_URL.replace(/\/\/[^@/]*@/, '//***@')}`);
    });
    switch (command) {
      case 'create': {
        const { key, info } = await createApiKey(redis, keys, name!);
        console.log(
          `API key "${info.name}" created (id ${info.id}). It is shown this once; only its hash is kept.`,
        );
        console.log('Clients send it as "Authorization: Bearer <key>" (or "X-API-Key: <key>"):');
        console.log(key);
        return 0;
      }
      case 'list': {
        const list = await listApiKeys(redis, keys);
        if (list.length === 0) console.log('no API keys (create one: npm run keys -- create NAME)');
        for (const k of list) console.log(`${k.name}\tid ${k.id}\tcreated ${k.createdAt}`);
        return 0;
      }
      case 'revoke': {
        if (!(await revokeApiKey(redis, keys, name!))) {
          console.error(`no API key named "${name}"`);
          return 1;
        }
        console.log(`API key "${name}" revoked; its jobs can no longer be read by anyone`);
        return 0;
      }
      default:
        console.error(USAGE);
        return 2;
    }
  } finally {
    redis.disconnect();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof ApiKeyError || err instanceof ConfigError ? err.message : err);
    process.exit(1);
  },
);
