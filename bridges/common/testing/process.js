// Starts a bridge as a real child process (node src/main.js) and waits for its port.
import { spawn } from 'node:child_process';
import readline from 'node:readline';

export function spawnBridge(mainPath, env, { timeout = 10000 } = {}) {
  const proc = spawn(process.execPath, [mainPath], {
    env: { PATH: process.env.PATH, HOST: '127.0.0.1', PORT: '0', BRIDGE_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  proc.stderr.on('data', (d) => { stderr += d; });
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error(`bridge did not start: ${stderr}`)); }, timeout);
    proc.once('exit', (code) => { clearTimeout(t); reject(new Error(`bridge exited with ${code}: ${stderr}`)); });
    readline.createInterface({ input: proc.stdout }).on('line', (line) => {
      try {
        const { listening } = JSON.parse(line);
        if (listening) {
          clearTimeout(t);
          proc.removeAllListeners('exit');
          resolve({ proc, port: listening, stderr: () => stderr,
            kill: (sig = 'SIGKILL') => new Promise((r) => { proc.once('exit', r); proc.kill(sig); }) });
        }
      } catch { /* not our line */ }
    });
  });
}
