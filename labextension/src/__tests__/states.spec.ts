import { countsText, formatDuration, isActive, setLooks, stateLook, STATUSES } from '../states';

describe('stateLook', () => {
  it('gives every status its own icon, label and colour', () => {
    const looks = STATUSES.map(stateLook);
    expect(new Set(looks.map(l => l.icon)).size).toBe(STATUSES.length);
    expect(new Set(looks.map(l => l.color)).size).toBe(STATUSES.length);
    for (const look of looks) {
      expect(look.label).toBe(look.status);
      expect(look.color).toMatch(new RegExp(`^var\\(--mlp-${look.status}, #[0-9a-f]{6}\\)$`));
    }
  });
  it('uses the icons of the in-notebook panel', () => {
    expect(stateLook('succeeded').icon).toBe('✓');
    expect(stateLook('reused').icon).toBe('↺');
    expect(stateLook('failed').icon).toBe('✗');
    expect(stateLook('running').icon).toBe('▶');
  });
  it('reads a missing status as not run, an unknown one as itself', () => {
    expect(stateLook(null)).toMatchObject({ status: 'notrun', label: 'not run yet' });
    expect(stateLook('weird')).toMatchObject({ icon: '?', label: 'weird' });
  });
});

describe('setLooks', () => {
  it('takes the looks the server sends for the statuses it knows, and only those', () => {
    const before = stateLook('failed');
    setLooks({
      failed: { icon: 'X', label: 'broke', color: '#000000' },
      interrupted: { icon: '⚡', label: 'interrupted', color: '#57606a' },
      constructor: { icon: '!', label: 'no', color: '#111111' }
    });
    expect(stateLook('failed')).toEqual({ status: 'failed', icon: 'X', label: 'broke', color: 'var(--mlp-failed, #000000)' });
    expect(stateLook('interrupted')).toMatchObject({ icon: '?', label: 'interrupted' });
    expect(stateLook('constructor')).toMatchObject({ icon: '?', label: 'constructor' });
    setLooks({ failed: { icon: '', label: before.label, color: '' } });
    expect(stateLook('failed').icon).toBe('X'); // an empty field keeps what was there
    setLooks({ failed: { icon: before.icon, label: before.label, color: '#cf222e' } });
    setLooks(undefined);
    expect(stateLook('failed')).toEqual(before);
  });
});

describe('isActive', () => {
  it('is true for pending and running only', () => {
    expect(STATUSES.filter(isActive)).toEqual(['pending', 'running']);
    expect(isActive(undefined)).toBe(false);
  });
});

describe('formatDuration', () => {
  it('picks a unit a person reads at a glance', () => {
    expect(formatDuration(0.0421)).toBe('42 ms');
    expect(formatDuration(4.25)).toBe('4.3 s');
    expect(formatDuration(185)).toBe('3 min 05 s');
    expect(formatDuration(3720)).toBe('1 h 02 min');
    expect(formatDuration(null)).toBe('');
    expect(formatDuration(NaN)).toBe('');
  });
});

describe('countsText', () => {
  it('lists the counts in state order', () => {
    expect(countsText({ reused: 1, succeeded: 3 })).toBe('✓ 3 succeeded, ↺ 1 reused');
    expect(countsText(undefined)).toBe('');
  });
});
