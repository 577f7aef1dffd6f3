export { redis, RedisStore, type RedisStoreOptions, type RedisTarget } from './redis.js';
export { escapeName } from './names.js';
