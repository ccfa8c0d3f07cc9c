//! The flow model as stored JSON (DESIGN §6), the bot program a step runs against, and the
//! session a conversation carries between steps. Plain data: behaviour lives in `exec`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::hours::BusinessHours;
use crate::messages::MediaKind;

/// One published (immutable, numbered) version of a flow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Flow {
    pub id: String,
    #[serde(default)]
    pub version: u32,
    pub name: String,
    /// Id of the first node.
    pub start: String,
    pub nodes: BTreeMap<String, Node>,
    #[serde(default)]
    pub triggers: Vec<Trigger>,
    /// Variables this flow expects on entry (e.g. set by the flow that jumps here).
    #[serde(default)]
    pub params: Vec<String>,
}

/// What starts a flow when no conversation is running.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Trigger {
    /// Any of the words, compared accent- and case-insensitively with the whole message.
    Keyword {
        words: Vec<String>,
    },
    Regex {
        pattern: String,
    },
}

fn default_retries() -> u32 {
    3
}

fn default_timeout_ms() -> u64 {
    5000
}

fn default_method() -> String {
    "GET".into()
}

/// A node of a flow, tagged by `type`. Text fields are minijinja templates; `when`,
/// `set` values and `number` are minijinja expressions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Node {
    /// Send text or media, with optional reply buttons (≤3) or a list (≤10 rows) for show;
    /// then continue to `next` (a flow that routes on the answer uses `menu`).
    Message {
        #[serde(default)]
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        media: Option<MediaSpec>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        buttons: Vec<ButtonSpec>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        list: Option<ListSpec>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        next: Option<String>,
    },
    /// Ask, validate, store the answer in `var`.
    Question {
        text: String,
        var: String,
        #[serde(default)]
        validate: Validator,
        /// Sent instead of the question when the answer is invalid.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        #[serde(default = "default_retries")]
        max_retries: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        on_fail: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        next: Option<String>,
    },
    /// Options shown as buttons (≤3 short titles), a list (≤10) or numbered text; each
    /// option leads to its own node. Matches a tap, the number, the title or a synonym.
    Menu {
        text: String,
        options: Vec<MenuOption>,
        /// Label of the list button.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        button: Option<String>,
        /// Stores the chosen option id.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        var: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        #[serde(default = "default_retries")]
        max_retries: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        on_fail: Option<String>,
    },
    /// First branch whose expression is truthy wins, else `else`.
    Condition {
        branches: Vec<Branch>,
        #[serde(rename = "else")]
        otherwise: String,
    },
    /// Variables from expressions, in order (later ones see earlier ones).
    Set {
        vars: Vec<Assignment>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        next: Option<String>,
    },
    Http {
        #[serde(default = "default_method")]
        method: String,
        url: String,
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        headers: BTreeMap<String, String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        body: Option<String>,
        #[serde(default = "default_timeout_ms")]
        timeout_ms: u64,
        /// variable -> JSON path in the response body (`data.items[0].name`).
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        map: BTreeMap<String, String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        next: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        on_error: Option<String>,
    },
    /// Categories -> products -> quantity -> cart; `next` when the customer checks out.
    Catalog {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<String>,
        /// Show only this category (skips the category list).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        category: Option<String>,
        /// Only products matching this search (a template, e.g. `{{ busqueda }}`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        search: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        #[serde(default = "default_retries")]
        max_retries: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        on_fail: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        next: Option<String>,
    },
    /// Create an order from the cart; sets `order` ({id, number, total, currency}) or
    /// `order_error`.
    Order {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        customer_name: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        address: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        notes: Option<String>,
        /// Confirmation; a sensible Spanish default when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<String>,
        /// Where to go with an empty cart (default: `on_error`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        on_empty: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        next: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        on_error: Option<String>,
    },
    /// Look an order up by number (an expression); sets `order_status`
    /// ({found, number, status, total, currency}).
    OrderStatus {
        number: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        next: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        on_not_found: Option<String>,
    },
    /// Hand the conversation to a person; the bot is silent until released, then goes to
    /// `next` (or the session ends).
    Handoff {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        next: Option<String>,
    },
    /// Jump to a node of this flow, or to another flow (its start, or `node`).
    Goto {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        flow: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        node: Option<String>,
    },
    End {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MediaSpec {
    pub kind: MediaKind,
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ButtonSpec {
    pub id: String,
    pub title: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListSpec {
    pub button: String,
    pub rows: Vec<ListRowSpec>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListRowSpec {
    pub id: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MenuOption {
    pub id: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub synonyms: Vec<String>,
    pub next: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Branch {
    pub when: String,
    pub next: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assignment {
    pub var: String,
    pub expr: String,
}

/// How a question checks its answer, tagged by `kind`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Validator {
    /// Any text; length in characters.
    #[serde(alias = "any")]
    Text {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min: Option<usize>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<usize>,
    },
    Number {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<f64>,
        #[serde(default)]
        integer: bool,
    },
    Email,
    /// Stored as E.164; numbers without a country code use the tenant's country.
    Phone,
    /// dd/mm/yyyy or ISO yyyy-mm-dd; stored as ISO.
    Date,
    Regex {
        pattern: String,
    },
    OneOf {
        options: Vec<Choice>,
    },
}

impl Default for Validator {
    fn default() -> Self {
        Validator::Text {
            min: None,
            max: None,
        }
    }
}

/// An allowed answer: matched by its number, value, title or a synonym.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Choice {
    pub value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub synonyms: Vec<String>,
}

impl Choice {
    pub fn title(&self) -> &str {
        self.title.as_deref().unwrap_or(&self.value)
    }
}

fn default_idle_timeout() -> u64 {
    24 * 3600
}

/// Everything a bot runs: its published flows and the settings around them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BotProgram {
    /// Published versions; several versions of one flow may coexist so running sessions
    /// finish on the version they started on. New sessions use the highest version.
    pub flows: Vec<Flow>,
    pub default_flow: String,
    #[serde(default)]
    pub commands: GlobalCommands,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hours: Option<BusinessHours>,
    #[serde(default = "default_idle_timeout")]
    pub idle_timeout_secs: u64,
}

impl BotProgram {
    /// The newest published version of a flow.
    pub fn latest(&self, flow_id: &str) -> Option<&Flow> {
        self.flows
            .iter()
            .filter(|f| f.id == flow_id)
            .max_by_key(|f| f.version)
    }

    /// The exact version a session runs on, or the newest if that one is gone.
    pub fn version(&self, flow_id: &str, version: u32) -> Option<&Flow> {
        self.flows
            .iter()
            .find(|f| f.id == flow_id && f.version == version)
            .or_else(|| self.latest(flow_id))
    }
}

/// Words that work at any point of a conversation (compared accent/case-insensitively).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GlobalCommands {
    #[serde(default)]
    pub menu: Vec<String>,
    #[serde(default)]
    pub agent: Vec<String>,
    #[serde(default)]
    pub stop: Vec<String>,
    #[serde(default = "default_handoff_text")]
    pub handoff_text: String,
    #[serde(default = "default_goodbye")]
    pub goodbye: String,
}

fn default_handoff_text() -> String {
    "Te comunico con una persona de nuestro equipo. Un momento, por favor.".into()
}

fn default_goodbye() -> String {
    "¡Hasta pronto! Escríbenos cuando quieras.".into()
}

impl Default for GlobalCommands {
    fn default() -> Self {
        GlobalCommands {
            menu: vec!["menu".into()],
            agent: vec!["agente".into(), "agent".into()],
            stop: vec!["stop".into(), "salir".into()],
            handoff_text: default_handoff_text(),
            goodbye: default_goodbye(),
        }
    }
}

/// One cart line; prices are frozen when the line is added.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CartLine {
    pub product_id: String,
    pub sku: String,
    pub name: String,
    pub unit_price_minor: i64,
    pub currency: String,
    pub qty: i64,
}

/// What a paused session waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Waiting {
    #[default]
    None,
    /// A customer message for the current node.
    Input,
    OrderResult,
    OrderStatus,
    HttpResult,
    /// A person has the conversation.
    Human,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    #[default]
    Bot,
    Human,
    /// No flow runs; kept only to remember when the away message went out.
    Ended,
}

/// Where a catalog node is inside its own little conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "stage", rename_all = "snake_case")]
pub enum CatalogStage {
    Categories {
        page: usize,
    },
    Products {
        category: Option<String>,
        page: usize,
    },
    Quantity {
        product_id: String,
    },
    AfterAdd,
}

/// A conversation's state between steps; the glue stores it in redb.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub flow_id: String,
    pub flow_version: u32,
    pub node: String,
    #[serde(default)]
    pub vars: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    pub cart: Vec<CartLine>,
    #[serde(default)]
    pub retries: u32,
    #[serde(default)]
    pub waiting: Waiting,
    #[serde(default)]
    pub status: SessionStatus,
    pub started_at: DateTime<Utc>,
    pub last_activity_at: DateTime<Utc>,
    /// When the away message was last sent (it goes out at most once per interval).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub away_sent_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalog: Option<CatalogStage>,
}

impl Session {
    pub fn new(flow: &Flow, now: DateTime<Utc>) -> Session {
        Session {
            flow_id: flow.id.clone(),
            flow_version: flow.version,
            node: flow.start.clone(),
            vars: serde_json::Map::new(),
            cart: Vec::new(),
            retries: 0,
            waiting: Waiting::None,
            status: SessionStatus::Bot,
            started_at: now,
            last_activity_at: now,
            away_sent_at: None,
            catalog: None,
        }
    }

    pub fn cart_total_minor(&self) -> i64 {
        self.cart
            .iter()
            .map(|l| l.unit_price_minor.saturating_mul(l.qty))
            .fold(0i64, |a, b| a.saturating_add(b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_read_from_json_tagged_by_type_with_defaults() {
        let json = r#"{"id":"f","name":"F","start":"q","nodes":{
            "q":{"type":"question","text":"¿Edad?","var":"edad","validate":{"kind":"number","integer":true},"next":"c"},
            "c":{"type":"condition","branches":[{"when":"edad >= 18","next":"e"}],"else":"e"},
            "e":{"type":"end"}}}"#;
        let flow: Flow = serde_json::from_str(json).expect("valid flow json");
        match &flow.nodes["q"] {
            Node::Question {
                max_retries,
                validate,
                ..
            } => {
                assert_eq!(*max_retries, 3);
                assert!(matches!(validate, Validator::Number { integer: true, .. }));
            }
            other => panic!("unexpected node {other:?}"),
        }
        let back = serde_json::to_value(&flow).expect("serialises");
        assert_eq!(back["nodes"]["c"]["else"], "e");
    }

    #[test]
    fn global_commands_default_to_menu_agent_and_stop_words() {
        let c = GlobalCommands::default();
        assert!(c.agent.contains(&"agente".to_string()));
        assert!(c.stop.contains(&"salir".to_string()));
        assert_eq!(c.menu, vec!["menu".to_string()]);
    }

    #[test]
    fn a_session_runs_on_its_own_version_or_the_newest_when_gone() {
        let mk = |v| Flow {
            id: "f".into(),
            version: v,
            name: "F".into(),
            start: "e".into(),
            nodes: BTreeMap::from([("e".to_string(), Node::End { text: None })]),
            triggers: vec![],
            params: vec![],
        };
        let bot = BotProgram {
            flows: vec![mk(1), mk(2)],
            default_flow: "f".into(),
            commands: GlobalCommands::default(),
            hours: None,
            idle_timeout_secs: 60,
        };
        assert_eq!(bot.latest("f").map(|f| f.version), Some(2));
        assert_eq!(bot.version("f", 1).map(|f| f.version), Some(1));
        assert_eq!(bot.version("f", 7).map(|f| f.version), Some(2));
    }
}
