//! What a step reacts to: a customer's message, or the result of an effect it asked for.

use serde::{Deserialize, Serialize};

use crate::messages::{Inbound, MediaKind};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Input {
    Text {
        text: String,
    },
    Button {
        id: String,
        title: String,
    },
    ListPick {
        id: String,
        title: String,
    },
    Media {
        kind: MediaKind,
        #[serde(default)]
        url: Option<String>,
        #[serde(default)]
        caption: Option<String>,
    },
    Location {
        latitude: f64,
        longitude: f64,
        #[serde(default)]
        name: Option<String>,
        #[serde(default)]
        address: Option<String>,
    },
    /// A message kind flows do not handle (reaction, contact card...): never answered.
    Unsupported {
        kind: String,
    },
    /// Outcome of `Effect::CreateOrder`.
    OrderResult {
        ok: bool,
        #[serde(default)]
        order_id: Option<String>,
        #[serde(default)]
        number: Option<i64>,
        #[serde(default)]
        total_minor: Option<i64>,
        #[serde(default)]
        currency: Option<String>,
        #[serde(default)]
        error: Option<String>,
    },
    /// Outcome of `Effect::LookupOrder`.
    OrderStatus {
        found: bool,
        number: i64,
        #[serde(default)]
        status: Option<String>,
        #[serde(default)]
        total_minor: Option<i64>,
        #[serde(default)]
        currency: Option<String>,
    },
    /// Outcome of `Effect::Http`.
    HttpResult {
        ok: bool,
        #[serde(default)]
        status: Option<u16>,
        #[serde(default)]
        body: Option<serde_json::Value>,
        #[serde(default)]
        error: Option<String>,
    },
    /// The agent released a handed-off conversation back to the bot.
    Released,
}

impl Input {
    /// Whether a customer sent it (as opposed to a result fed back by the glue).
    pub fn is_customer(&self) -> bool {
        matches!(
            self,
            Input::Text { .. }
                | Input::Button { .. }
                | Input::ListPick { .. }
                | Input::Media { .. }
                | Input::Location { .. }
                | Input::Unsupported { .. }
        )
    }

    /// The text a flow reads: the body, the tapped title, the caption or the place.
    pub fn text(&self) -> Option<&str> {
        match self {
            Input::Text { text } => Some(text),
            Input::Button { title, .. } | Input::ListPick { title, .. } => Some(title),
            Input::Media { caption, .. } => caption.as_deref(),
            Input::Location { address, name, .. } => address.as_deref().or(name.as_deref()),
            _ => None,
        }
    }

    /// The id of a tapped button or list row.
    pub fn picked(&self) -> Option<&str> {
        match self {
            Input::Button { id, .. } | Input::ListPick { id, .. } => Some(id),
            _ => None,
        }
    }
}

impl From<&Inbound> for Input {
    fn from(m: &Inbound) -> Self {
        match m {
            Inbound::Text { body } => Input::Text { text: body.clone() },
            Inbound::ButtonReply { id, title } => Input::Button {
                id: id.clone(),
                title: title.clone(),
            },
            Inbound::ListReply { id, title, .. } => Input::ListPick {
                id: id.clone(),
                title: title.clone(),
            },
            Inbound::Media {
                kind,
                url,
                local_path,
                caption,
                ..
            } => Input::Media {
                kind: *kind,
                url: local_path.clone().or_else(|| url.clone()),
                caption: caption.clone(),
            },
            Inbound::Location {
                latitude,
                longitude,
                name,
                address,
            } => Input::Location {
                latitude: *latitude,
                longitude: *longitude,
                name: name.clone(),
                address: address.clone(),
            },
            Inbound::Unsupported { kind } => Input::Unsupported { kind: kind.clone() },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inbound_messages_become_inputs_with_their_text() {
        let i = Input::from(&Inbound::ListReply {
            id: "cat".into(),
            title: "Ver catálogo".into(),
            description: None,
        });
        assert_eq!(i.picked(), Some("cat"));
        assert_eq!(i.text(), Some("Ver catálogo"));
        assert!(i.is_customer());
        let r: Input =
            serde_json::from_str(r#"{"type":"order_result","ok":true,"number":7}"#).expect("json");
        assert!(!r.is_customer());
    }
}
