//! Cursor pagination, newest first, stable while rows are added or removed: the cursor
//! is the sort key of the last item of the previous page (an id for sellers and orders,
//! whose UUIDv7 ids sort by creation; the insertion sequence for products and customers,
//! which search walks in that order). Clients treat it as opaque.

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
    /// Checks a client's limit; the cursor is checked by the list that reads it.
    pub fn parse(cursor: Option<&str>, limit: Option<u32>) -> Result<Cursor, ShopError> {
        let after = cursor
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string);
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

    fn bad() -> ShopError {
        ShopError::field("cursor", "is not a cursor from a previous page")
    }

    /// The cursor as an id (UUID text).
    pub fn after_id(&self) -> Result<Option<String>, ShopError> {
        self.after
            .as_deref()
            .map(|c| {
                uuid::Uuid::parse_str(c)
                    .map(|u| u.to_string())
                    .map_err(|_| Self::bad())
            })
            .transpose()
    }

    /// The cursor as an insertion sequence number.
    pub fn after_seq(&self) -> Result<Option<i64>, ShopError> {
        self.after
            .as_deref()
            .map(|c| c.parse::<i64>().map_err(|_| Self::bad()))
            .transpose()
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

    /// Like [`Cursor::finish`] for rows read with their sequence number.
    pub fn finish_seq<T>(&self, rows: Vec<(i64, T)>) -> Page<T> {
        let page = self.finish(rows, |(seq, _)| seq.to_string());
        Page {
            items: page.items.into_iter().map(|(_, t)| t).collect(),
            next_cursor: page.next_cursor,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_are_checked_by_the_list_that_reads_them() {
        let c = Cursor::parse(Some("5"), Some(3)).unwrap();
        assert_eq!(c.after_seq().unwrap(), Some(5));
        assert!(c.after_id().is_err());
        let c = Cursor::parse(Some("zzz"), None).unwrap();
        assert!(c.after_seq().is_err());
        assert!(Cursor::parse(None, Some(0)).is_err());
        let page = Cursor::first(2).finish_seq(vec![(9, 'a'), (7, 'b'), (4, 'c')]);
        assert_eq!(page.items, ['a', 'b']);
        assert_eq!(page.next_cursor.as_deref(), Some("7"));
    }
}
