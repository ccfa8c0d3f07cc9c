// How the adapter gets its Baileys socket: the real library, or (BRIDGE_FAKE=1) a fake.
export async function realFactory() {
  const B = await import('baileys');
  const makeWASocket = B.makeWASocket ?? B.default?.default ?? B.default;
  return {
    // BRIDGE_BAILEYS_WS_URL only exists so a test can point the real socket at a local server.
    makeSocket: (opts) => makeWASocket({ ...opts, ...(process.env.BRIDGE_BAILEYS_WS_URL ? { waWebSocketUrl: process.env.BRIDGE_BAILEYS_WS_URL } : {}) }),
    useAuthState: (dir) => B.useMultiFileAuthState(dir),
    downloadMedia: (m, sock) => B.downloadMediaMessage(m, 'buffer', {}, {
      logger: { level: 'silent', child() { return this; }, trace() {}, debug() {}, info() {}, warn() {}, error() {}, fatal() {} },
      reuploadRequest: sock.updateMediaMessage,
    }),
  };
}
