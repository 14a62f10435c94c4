import { loadConfig } from '../src/index.ts';

describe('loadConfig', () => {
  it('has dev defaults', () => {
    expect(loadConfig({})).toEqual({ port: 50_070, host: '127.0.0.1', latencyMs: 0, logLevel: 'info' });
    expect(loadConfig({ PORT: '', HOST: '' }).port).toBe(50_070);
  });

  it('reads the environment', () => {
    expect(loadConfig({ PORT: '0', HOST: '0.0.0.0', MODEL_LATENCY_MS: '25', LOG_LEVEL: 'debug' })).toEqual({
      port: 0,
      host: '0.0.0.0',
      latencyMs: 25,
      logLevel: 'debug',
    });
  });

  it('names what is wrong', () => {
    expect(() => loadConfig({ PORT: 'eighty', LOG_LEVEL: 'loud' })).toThrow(/PORT[\s\S]*LOG_LEVEL/);
  });
});
