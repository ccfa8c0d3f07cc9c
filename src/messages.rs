//! Message content shared by the engine (what a flow says), the channels (what a provider
//! carries) and the outbox (what waits to be sent). Provider-neutral on purpose.

use serde::{Deserialize, Serialize};

/// What we send to a customer. Each channel maps it to its provider's wire format and
/// degrades what the provider cannot show (e.g. buttons to numbered text).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Content {
    Text {
        body: String,
    },
    Media {
        kind: MediaKind,
        url: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        caption: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        filename: Option<String>,
    },
    /// Reply buttons: at most 3, titles at most 20 characters.
    Buttons {
        body: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        header: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        footer: Option<String>,
        buttons: Vec<Button>,
    },
    /// A list message: at most 10 rows over all sections.
    List {
        body: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        header: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        footer: Option<String>,
        button: String,
        sections: Vec<ListSection>,
    },
    /// An approved template (the only kind allowed outside the 24-hour window on Cloud API).
    Template {
        name: String,
        language: String,
        #[serde(default)]
        params: Vec<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    Image,
    Video,
    Audio,
    Document,
    Sticker,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Button {
    pub id: String,
    pub title: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListSection {
    #[serde(default)]
    pub title: String,
    pub rows: Vec<ListRow>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListRow {
    pub id: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// What a customer sent us, after a channel normalised its provider's format.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Inbound {
    Text {
        body: String,
    },
    /// A tap on a reply button.
    ButtonReply {
        id: String,
        title: String,
    },
    /// A pick from a list message.
    ListReply {
        id: String,
        title: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
    },
    Media {
        kind: MediaKind,
        /// Provider media id (Cloud API) when the file must still be fetched.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        media_id: Option<String>,
        /// Where the provider says the file can be fetched.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        url: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mime_type: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        caption: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        filename: Option<String>,
        /// Path under the data dir's `media/` once downloaded (content-addressed).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        local_path: Option<String>,
    },
    Location {
        latitude: f64,
        longitude: f64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        address: Option<String>,
    },
    /// Anything we do not handle (reactions, contacts, ...): stored, not answered.
    Unsupported {
        kind: String,
    },
}

impl Inbound {
    /// The text a flow sees: the body, the tapped title, or the caption.
    pub fn text(&self) -> Option<&str> {
        match self {
            Inbound::Text { body } => Some(body),
            Inbound::ButtonReply { title, .. } | Inbound::ListReply { title, .. } => Some(title),
            Inbound::Media { caption, .. } => caption.as_deref(),
            _ => None,
        }
    }
}

/// Delivery state of a message we sent. Ordered: a status never moves backwards
/// (read never becomes delivered), and `Failed` is terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    Queued,
    Sent,
    Delivered,
    Read,
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Queued => "queued",
            DeliveryStatus::Sent => "sent",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Read => "read",
            DeliveryStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "queued" | "accepted" | "scheduled" => DeliveryStatus::Queued,
            "sent" | "sending" | "server_ack" => DeliveryStatus::Sent,
            "delivered" | "delivery_ack" => DeliveryStatus::Delivered,
            "read" | "played" => DeliveryStatus::Read,
            "failed" | "undelivered" | "error" => DeliveryStatus::Failed,
            _ => return None,
        })
    }

    /// Whether moving from `self` to `next` is progress (out-of-order callbacks are ignored).
    pub fn advances_to(self, next: DeliveryStatus) -> bool {
        self != DeliveryStatus::Failed && next > self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_never_goes_back_to_delivered() {
        assert!(!DeliveryStatus::Read.advances_to(DeliveryStatus::Delivered));
        assert!(DeliveryStatus::Sent.advances_to(DeliveryStatus::Read));
        assert!(!DeliveryStatus::Failed.advances_to(DeliveryStatus::Read));
    }

    #[test]
    fn content_round_trips_as_tagged_json() {
        let c = Content::Buttons {
            body: "¿Qué deseas?".into(),
            header: None,
            footer: None,
            buttons: vec![Button {
                id: "cat".into(),
                title: "Ver catálogo".into(),
            }],
        };
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(json["type"], "buttons");
        assert_eq!(serde_json::from_value::<Content>(json).unwrap(), c);
    }
}
