// One JSON line per log record on stderr (journald / docker logs pick it up).
const LEVELS = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export function makeLogger(level = 'info', base = {}) {
  const min = LEVELS[level] ?? 20;
  const write = (lvl, msg, fields) => {
    if (LEVELS[lvl] < min) return;
    process.stderr.write(JSON.stringify({ t: new Date().toISOString(), level: lvl, msg, ...base, ...fields }) + '\n');
  };
  return {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
    child: (f) => makeLogger(level, { ...base, ...f }),
  };
}
