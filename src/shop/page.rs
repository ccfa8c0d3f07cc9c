//! Cursor pagination: newest first by id (UUIDv7 sorts by creation), so the order is
//! stable while rows are added; the cursor is the last id of the previous page.

use serde::Serialize;
use utoipa::ToSchema;

use super::ShopError;

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Page request: at most `limit` items after `after` (an id).
#[derive(Debug, Clone, Default)]
pub struct Cursor {
    pub after: Option<String>,
    pub limit: u32,
}

pub const MAX_LIMIT: u32 = 200;
pub const DEFAULT_LIMIT: u32 = 50;

impl Cursor {
    /// Checks a client's cursor and limit.
    pub fn parse(cursor: Option<&str>, limit: Option<u32>) -> Result<Cursor, ShopError> {
        let after = match cursor.map(str::trim).filter(|s| !s.is_empty()) {
            Some(c) => Some(
                uuid::Uuid::parse_str(c)
                    .map_err(|_| {
                        ShopError::field("cursor", "is not a cursor from a previous page")
                    })?
                    .to_string(),
            ),
            None => None,
        };
        let limit = limit.unwrap_or(DEFAULT_LIMIT);
        if limit == 0 || limit > MAX_LIMIT {
            return Err(ShopError::field(
                "limit",
                format!("must be between 1 and {MAX_LIMIT}"),
            ));
        }
        Ok(Cursor { after, limit })
    }

    pub fn first(limit: u32) -> Cursor {
        Cursor {
            after: None,
            limit: limit.clamp(1, MAX_LIMIT),
        }
    }

    /// SQL `LIMIT`: one more than asked, to know whether a next page exists.
    pub fn fetch(&self) -> i64 {
        i64::from(self.limit) + 1
    }

    /// Cuts the extra row and derives the next cursor from the last id.
    pub fn finish<T>(&self, mut rows: Vec<T>, id: impl Fn(&T) -> String) -> Page<T> {
        let more = rows.len() > self.limit as usize;
        rows.truncate(self.limit as usize);
        let next_cursor = if more { rows.last().map(id) } else { None };
        Page {
            items: rows,
            next_cursor,
        }
    }
}
