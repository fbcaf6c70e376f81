import { describe, expect, it } from 'vitest';
import { monitorLineInterface, monitorLineRelevant } from './monitor.ts';

describe('ip -o monitor link address lines (SPEC §7.1 triggers)', () => {
  it('finds the interface of link, address and deletion lines', () => {
    expect(monitorLineInterface('3: eth0    inet 10.77.0.3/24 scope global eth0\\       valid_lft forever')).toBe(
      'eth0',
    );
    expect(monitorLineInterface('Deleted 3: eth0    inet 10.77.0.3/24 scope global eth0')).toBe('eth0');
    expect(monitorLineInterface('5: veth0@x_h: <BROADCAST,MULTICAST,M-DOWN> mtu 1500 qdisc noop')).toBe('veth0');
    expect(monitorLineInterface('7: eth0.vxlan4: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1450')).toBe('eth0.vxlan4');
    expect(monitorLineInterface('Deleted 9: hybr0123456789a@if2: <BROADCAST> mtu 1500')).toBe('hybr0123456789a');
    expect(monitorLineInterface('')).toBeUndefined();
  });
  it('ignores container interfaces', () => {
    expect(monitorLineRelevant('3: eth0    inet6 fd00::1/64 scope global')).toBe(true);
    expect(monitorLineRelevant('9: hybr0123456789a@if2: <BROADCAST> mtu 1500')).toBe(false);
    expect(monitorLineRelevant('9: veth12@if2: <BROADCAST> mtu 1500')).toBe(false);
    expect(monitorLineRelevant('garbage')).toBe(false);
  });
});

describe('LinkMonitor child process', () => {
  it('calls onChange for host-interface lines, restarts the child after it exits, stops for good on stop()', async () => {
    const { LinkMonitor } = await import('./monitor.ts');
    const pino = (await import('pino')).default;
    let changes = 0;
    let runs = 0;
    const script = 'echo "2: eth0    inet 10.0.0.1/24 scope global eth0"; echo "9: hybr1@if2: <UP> mtu 1500"; exit 3';
    const m = new LinkMonitor(() => changes++, pino({ level: 'silent' }), ['sh', '-c', `echo run >&2; ${script}`]);
    const origStart = m.start.bind(m);
    m.start = () => {
      runs++;
      origStart();
    };
    m.start();
    await new Promise((r) => setTimeout(r, 1600));
    m.stop();
    // first run: one relevant line + the exit; restarted once after the 1 s back-off
    expect(runs).toBe(2);
    expect(changes).toBeGreaterThanOrEqual(3);
    const after = changes;
    await new Promise((r) => setTimeout(r, 300));
    expect(changes).toBe(after);
  });
});
