//! The figures of a set of events. One accumulator serves the rollup (one per bucket and
//! bot) and the KPI query (one per range), so both count the same way.

use std::collections::{BTreeMap, HashSet};

/// The columns of an event that figures are made of.
#[derive(Debug, Clone)]
pub struct EventFacts {
    pub bot_id: Option<String>,
    pub conversation_id: Option<String>,
    pub kind: String,
    pub label: Option<String>,
    pub amount_minor: Option<i64>,
    pub response_ms: Option<i64>,
    pub at_ms: i64,
}

/// SELECT list matching [`EventFacts::from_row`].
pub const FACT_COLUMNS: &str =
    "bot_id, conversation_id, kind, label, amount_minor, response_ms, at_ms";

impl EventFacts {
    pub fn from_row(r: &rusqlite::Row) -> rusqlite::Result<EventFacts> {
        Ok(EventFacts {
            bot_id: r.get(0)?,
            conversation_id: r.get(1)?,
            kind: r.get(2)?,
            label: r.get(3)?,
            amount_minor: r.get(4)?,
            response_ms: r.get(5)?,
            at_ms: r.get(6)?,
        })
    }
}

/// Running figures. Metric names (also the rollup's `metric` column):
/// - `<kind>`: events of that kind (`message_in`, `message_out`, `send_failed`, ...)
/// - `delivery_status.<status>`, `orders.<CUR>`, `revenue_minor.<CUR>`
/// - `conversations_active`, `conversations_converted` (with an `order_created`),
///   `bots_active`, `response_count`, `response_ms_sum`, `response_ms_p95`
#[derive(Debug, Default, Clone)]
pub struct Figures {
    counts: BTreeMap<String, i64>,
    conversations: HashSet<String>,
    converted: HashSet<String>,
    bots: HashSet<String>,
    responses: Vec<i64>,
}

impl Figures {
    pub fn add(&mut self, e: &EventFacts) {
        self.bump(&e.kind, 1);
        match (e.kind.as_str(), &e.label) {
            ("delivery_status", Some(s)) => self.bump(&format!("delivery_status.{s}"), 1),
            ("order_created", Some(cur)) => {
                self.bump(&format!("orders.{cur}"), 1);
                self.bump(&format!("revenue_minor.{cur}"), e.amount_minor.unwrap_or(0));
            }
            _ => {}
        }
        if let Some(conv) = &e.conversation_id {
            if !self.conversations.contains(conv) {
                self.conversations.insert(conv.clone());
            }
            if e.kind == "order_created" && !self.converted.contains(conv) {
                self.converted.insert(conv.clone());
            }
        }
        if let Some(bot) = &e.bot_id {
            if !self.bots.contains(bot) {
                self.bots.insert(bot.clone());
            }
        }
        if let Some(r) = e.response_ms {
            self.responses.push(r);
        }
    }

    fn bump(&mut self, metric: &str, by: i64) {
        match self.counts.get_mut(metric) {
            Some(v) => *v += by,
            None => {
                self.counts.insert(metric.to_string(), by);
            }
        }
    }

    pub fn count(&self, metric: &str) -> i64 {
        self.counts.get(metric).copied().unwrap_or(0)
    }

    pub fn active_conversations(&self) -> i64 {
        self.conversations.len() as i64
    }
    pub fn converted_conversations(&self) -> i64 {
        self.converted.len() as i64
    }
    pub fn active_bots(&self) -> i64 {
        self.bots.len() as i64
    }

    /// (count, sum, p95) of response times in ms; p95 by nearest rank.
    pub fn response(&mut self) -> (i64, i64, Option<i64>) {
        let n = self.responses.len();
        if n == 0 {
            return (0, 0, None);
        }
        self.responses.sort_unstable();
        let rank = (95 * n).div_ceil(100).max(1);
        let p95 = self.responses.get(rank - 1).copied();
        (n as i64, self.responses.iter().sum(), p95)
    }

    /// Per-currency `(currency, orders, revenue_minor)`, sorted by currency.
    pub fn orders_by_currency(&self) -> Vec<(String, i64, i64)> {
        self.counts
            .iter()
            .filter_map(|(k, v)| {
                let cur = k.strip_prefix("orders.")?;
                Some((
                    cur.to_string(),
                    *v,
                    self.count(&format!("revenue_minor.{cur}")),
                ))
            })
            .collect()
    }

    /// Every non-zero figure as (metric, value), for the rollup tables.
    pub fn metrics(mut self, with_bots: bool) -> Vec<(String, i64)> {
        let (n, sum, p95) = self.response();
        let mut out: Vec<(String, i64)> = std::mem::take(&mut self.counts).into_iter().collect();
        let mut push = |name: &str, v: i64| {
            if v != 0 {
                out.push((name.to_string(), v));
            }
        };
        push("conversations_active", self.active_conversations());
        push("conversations_converted", self.converted_conversations());
        if with_bots {
            push("bots_active", self.active_bots());
        }
        push("response_count", n);
        push("response_ms_sum", sum);
        if let Some(p) = p95 {
            out.push(("response_ms_p95".into(), p));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fact(kind: &str, conv: &str, resp: Option<i64>) -> EventFacts {
        EventFacts {
            bot_id: Some("b".into()),
            conversation_id: Some(conv.into()),
            kind: kind.into(),
            label: None,
            amount_minor: None,
            response_ms: resp,
            at_ms: 0,
        }
    }

    #[test]
    fn p95_is_the_nearest_rank() {
        let mut f = Figures::default();
        for i in 1..=20 {
            f.add(&fact("message_out", "c", Some(i * 100)));
        }
        assert_eq!(f.response(), (20, 21_000, Some(1_900)));
        let mut one = Figures::default();
        one.add(&fact("message_out", "c", Some(7)));
        assert_eq!(one.response(), (1, 7, Some(7)));
    }

    #[test]
    fn distinct_conversations_and_conversion() {
        let mut f = Figures::default();
        f.add(&fact("message_in", "a", None));
        f.add(&fact("message_in", "a", None));
        f.add(&fact("message_in", "b", None));
        f.add(&fact("order_created", "b", None));
        assert_eq!(f.active_conversations(), 2);
        assert_eq!(f.converted_conversations(), 1);
        assert_eq!(f.count("message_in"), 3);
    }
}
