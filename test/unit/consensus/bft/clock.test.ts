import { describe, expect, it } from 'vitest';
import { ClockError, systemClock, VirtualClock } from '../../../../consensus/bft/clock.js';

describe('VirtualClock', () => {
  it('stands still until told to move, and starts where it is told', async () => {
    const clock = new VirtualClock({ start: 1_000 });
    let fired = false;
    clock.setTimeout(() => (fired = true), 0);
    expect(clock.now()).toBe(1_000);
    expect(fired).toBe(false);
    expect(clock.due).toBe(true);
    await clock.runUntilIdle();
    expect(fired).toBe(true);
    expect(clock.now()).toBe(1_000);
    expect(new VirtualClock().now()).toBe(0);
  });

  it('runs callbacks in deadline order, ties in the order they were scheduled', async () => {
    const clock = new VirtualClock();
    const order: string[] = [];
    clock.setTimeout(() => order.push('c30'), 30);
    clock.setTimeout(() => order.push('a10'), 10);
    clock.setTimeout(() => order.push('b10'), 10);
    clock.setTimeout(() => order.push('z0'), 0);
    clock.setTimeout(() => order.push('n-5'), -5); // clamped to 0, after z0
    clock.setTimeout(() => order.push('d10'), 10);
    await clock.advance(30);
    expect(order).toEqual(['z0', 'n-5', 'a10', 'b10', 'd10', 'c30']);
    expect(clock.now()).toBe(30);
  });

  it('advance runs exactly what falls due, each callback at its own deadline, and ends at the target', async () => {
    const clock = new VirtualClock();
    const seen: [string, number][] = [];
    clock.setTimeout(() => seen.push(['a', clock.now()]), 5);
    clock.setTimeout(() => seen.push(['b', clock.now()]), 20);
    clock.setTimeout(() => seen.push(['c', clock.now()]), 21);
    await clock.advance(20);
    expect(seen).toEqual([['a', 5], ['b', 20]]);
    expect(clock.now()).toBe(20);
    expect(clock.pending).toBe(1);
    expect(clock.nextAt()).toBe(21);
    expect(clock.due).toBe(false);
    await clock.advanceTo(25);
    expect(seen).toEqual([['a', 5], ['b', 20], ['c', 21]]);
    expect(clock.now()).toBe(25);
    expect(clock.nextAt()).toBeNull();
  });

  it('callbacks scheduled by callbacks run in the same advance when they fall inside it', async () => {
    const clock = new VirtualClock();
    const seen: [string, number][] = [];
    clock.setTimeout(() => {
      seen.push(['outer', clock.now()]);
      clock.setTimeout(() => seen.push(['now', clock.now()]), 0);
      clock.setTimeout(() => seen.push(['inner', clock.now()]), 4);
      clock.setTimeout(() => seen.push(['late', clock.now()]), 50);
    }, 3);
    clock.setTimeout(() => seen.push(['other', clock.now()]), 3);
    await clock.advance(10);
    // 'now' is due at 3 like 'other' but was scheduled after it.
    expect(seen).toEqual([['outer', 3], ['other', 3], ['now', 3], ['inner', 7]]);
    expect(clock.pending).toBe(1);
  });

  it('cancelled callbacks never run; cancelling twice, or after it ran, is harmless', async () => {
    const clock = new VirtualClock();
    const order: number[] = [];
    const handles = [10, 10, 10, 20].map((ms, i) => clock.setTimeout(() => order.push(i), ms));
    clock.clearTimeout(handles[1]!);
    clock.clearTimeout(handles[1]!);
    expect(clock.pending).toBe(3);
    await clock.advance(10);
    clock.clearTimeout(handles[0]!);
    expect(clock.pending).toBe(1);
    // A callback cancels one due at the same instant after it.
    clock.setTimeout(() => clock.clearTimeout(later), 10);
    const later = clock.setTimeout(() => order.push(99), 10);
    await clock.advance(20);
    expect(order).toEqual([0, 2, 3]);
    expect(clock.pending).toBe(0);
  });

  it('lets the promise chain a callback started reach its next wait before the next callback runs', async () => {
    const clock = new VirtualClock();
    const log: string[] = [];
    const sleep = (ms: number): Promise<void> => new Promise((resolve) => clock.setTimeout(resolve, ms));
    const task = async (name: string): Promise<void> => {
      log.push(`${name} start`);
      await Promise.resolve();
      await Promise.resolve();
      log.push(`${name} before sleep`);
      await sleep(10);
      log.push(`${name} after sleep at ${clock.now()}`);
    };
    clock.setTimeout(() => void task('a'), 0);
    clock.setTimeout(() => void task('b'), 0);
    await clock.runUntilIdle();
    expect(log).toEqual(['a start', 'a before sleep', 'b start', 'b before sleep']);
    await clock.advance(10);
    expect(log.slice(4)).toEqual(['a after sleep at 10', 'b after sleep at 10']);
  });

  it('step runs one callback at a time and moves time to it', async () => {
    const clock = new VirtualClock();
    const seen: number[] = [];
    clock.setTimeout(() => seen.push(clock.now()), 7);
    clock.setTimeout(() => seen.push(clock.now()), 7);
    expect(await clock.step()).toBe(true);
    expect(seen).toEqual([7]);
    expect(await clock.step()).toBe(true);
    expect(seen).toEqual([7, 7]);
    expect(await clock.step()).toBe(false);
    expect(clock.now()).toBe(7);
  });

  it('refuses to go backwards or to take non-finite times, and stops a livelock with CLOCK_RUNAWAY', async () => {
    const clock = new VirtualClock({ start: 100 });
    const code = (f: () => unknown): string | undefined => {
      try {
        f();
      } catch (e) {
        return e instanceof ClockError ? e.code : 'other';
      }
      return undefined;
    };
    expect(code(() => clock.setTimeout(() => {}, Number.NaN))).toBe('CLOCK_INVALID_ARGUMENT');
    expect(code(() => clock.setTimeout(() => {}, Infinity))).toBe('CLOCK_INVALID_ARGUMENT');
    expect(code(() => new VirtualClock({ start: Number.NaN }))).toBe('CLOCK_INVALID_ARGUMENT');
    await expect(clock.advance(-1)).rejects.toMatchObject({ code: 'CLOCK_INVALID_ARGUMENT' });
    await expect(clock.advanceTo(99)).rejects.toMatchObject({ code: 'CLOCK_INVALID_ARGUMENT' });

    const spinning = new VirtualClock({ settle: async () => {} });
    const again = (): void => void spinning.setTimeout(again, 0);
    again();
    await expect(spinning.runUntilIdle()).rejects.toMatchObject({ code: 'CLOCK_RUNAWAY' });
  });

  it('a callback that throws fails the advance that ran it and is not run again', async () => {
    const clock = new VirtualClock();
    let runs = 0;
    clock.setTimeout(() => {
      runs++;
      throw new Error('boom');
    }, 1);
    await expect(clock.advance(5)).rejects.toThrow('boom');
    await clock.advance(5);
    expect(runs).toBe(1);
  });
});

describe('systemClock', () => {
  it('reads Date.now and cancels what it schedules', () => {
    const before = Date.now();
    const t = systemClock.now();
    expect(t).toBeGreaterThanOrEqual(before);
    const handle = systemClock.setTimeout(() => {
      throw new Error('a cancelled timer ran');
    }, 0);
    systemClock.clearTimeout(handle);
  });
});
