// Read by puppeteer's install step (cosmiconfig): never download a browser; use the system one.
module.exports = { skipDownload: true };
