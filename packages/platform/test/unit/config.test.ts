import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError, env, loadConfig, testHookProblems } from '@wallet/platform';

const schema = z.object({
  NODE_ENV: z.string().default('development'),
  SVC_PORT: env.port(8080),
  WALLET_TEST_CRASH_POINT: env.testHook(['after_charge', 'before_charge']),
  WALLET_TEST_HOLD: env.testFlag(),
});

function problemsOf(run: () => unknown): string[] {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('test hooks (WALLET_TEST_*)', () => {
  it('are off by default and read when set outside production', () => {
    const defaults = loadConfig(schema, {});
    expect(defaults.WALLET_TEST_CRASH_POINT).toBeUndefined();
    expect(defaults.WALLET_TEST_HOLD).toBe(false);
    expect(loadConfig(schema, { NODE_ENV: 'test', WALLET_TEST_CRASH_POINT: 'after_charge', WALLET_TEST_HOLD: 'true' })).toMatchObject({
      WALLET_TEST_CRASH_POINT: 'after_charge',
      WALLET_TEST_HOLD: true,
    });
  });

  it('are refused under NODE_ENV=production, each named, even ones the schema does not read', () => {
    const problems = problemsOf(() =>
      loadConfig(schema, { NODE_ENV: 'production', WALLET_TEST_HOLD: '1', WALLET_TEST_SOMETHING_ELSE: 'x' }),
    );
    expect(problems).toEqual([
      'WALLET_TEST_HOLD: test-only hook, refused when NODE_ENV=production (unset it)',
      'WALLET_TEST_SOMETHING_ELSE: test-only hook, refused when NODE_ENV=production (unset it)',
    ]);
  });

  it('are reported together with the schema problems', () => {
    const problems = problemsOf(() => loadConfig(schema, { NODE_ENV: 'production', SVC_PORT: 'x', WALLET_TEST_HOLD: 'true' }));
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(/^SVC_PORT: /);
    expect(problems[1]).toMatch(/^WALLET_TEST_HOLD: /);
  });

  it('an empty hook variable counts as unset, and production without hooks starts', () => {
    expect(testHookProblems({ NODE_ENV: 'production', WALLET_TEST_HOLD: '' })).toEqual([]);
    expect(loadConfig(schema, { NODE_ENV: 'production' })).toMatchObject({ SVC_PORT: 8080 });
  });

  it('a hook value outside its list is refused, naming the variable', () => {
    expect(problemsOf(() => loadConfig(schema, { WALLET_TEST_CRASH_POINT: 'sometimes' }))[0]).toMatch(/^WALLET_TEST_CRASH_POINT: /);
  });
});
