//! Live channels per bot, built from the stored configs on first use and dropped when a
//! bot changes. Sandbox channels keep their transcript here for the dashboard.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::bots::Bot;
use crate::channels::{build_channel_in, Channel, ChannelEnv};
use crate::ids::BotId;

/// A bot with its channels built, in fallback order.
pub struct LiveBot {
    pub bot: Bot,
    pub channels: Vec<Arc<dyn Channel>>,
}

pub struct Registry {
    env: ChannelEnv,
    bots: RwLock<HashMap<BotId, Arc<LiveBot>>>,
}

impl Registry {
    pub fn new(env: ChannelEnv) -> Registry {
        Registry {
            env,
            bots: RwLock::new(HashMap::new()),
        }
    }

    pub fn cached(&self, id: BotId) -> Option<Arc<LiveBot>> {
        self.bots.read().ok()?.get(&id).cloned()
    }

    /// Builds (or rebuilds) the live channels for a freshly loaded bot.
    pub fn install(&self, bot: Bot) -> Arc<LiveBot> {
        let previous = self.cached(bot.id);
        let channels = bot
            .channels
            .iter()
            .enumerate()
            .map(|(i, c)| {
                // Keep a sandbox's transcript across config edits.
                match previous.as_ref().and_then(|p| p.channels.get(i)) {
                    Some(old) if old.kind() == c.config.kind() && old.as_sandbox().is_some() => {
                        old.clone()
                    }
                    _ => build_channel_in(&c.config, &self.env),
                }
            })
            .collect();
        let live = Arc::new(LiveBot { bot, channels });
        if let Ok(mut m) = self.bots.write() {
            m.insert(live.bot.id, live.clone());
        }
        live
    }

    pub fn forget(&self, id: BotId) {
        if let Ok(mut m) = self.bots.write() {
            m.remove(&id);
        }
    }
}
