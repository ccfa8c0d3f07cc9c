//! Durable send queue (DESIGN §5). This module holds the pure parts the worker is built
//! on: retry backoff, the per-channel circuit breaker, the per-bot rate limit and the
//! choice of channel along a bot's fallback chain. Time is always an argument.
