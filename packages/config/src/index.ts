export { addressList, host, hostAddress, logLevel, parseEnv, port, postgresUrl } from './parse-env.ts';
