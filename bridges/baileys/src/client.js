// How the adapter gets its Baileys socket: the real library, or (BRIDGE_FAKE=1) a fake.
export async function realFactory() {
  const B = await import('baileys');
  const makeWASocket = B.makeWASocket ?? B.default?.default ?? B.default;
  return {
    makeSocket: (opts) => makeWASocket(opts),
    useAuthState: (dir) => B.useMultiFileAuthState(dir),
    downloadMedia: (m, sock) => B.downloadMediaMessage(m, 'buffer', {}, {
      logger: { level: 'silent', child() { return this; }, trace() {}, debug() {}, info() {}, warn() {}, error() {}, fatal() {} },
      reuploadRequest: sock.updateMediaMessage,
    }),
  };
}
