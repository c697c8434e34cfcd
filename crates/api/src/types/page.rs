//! Relay connections: `first/after/last/before` (1..100), `edges`, `nodes`,
//! `pageInfo`, `totalCount`. Cursors are opaque positions in the ordering.

use async_graphql::connection::{Connection, Edge};
use async_graphql::{OutputType, SimpleObject};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::{ApiError, ApiResult};

/// The extra field of every connection.
#[derive(SimpleObject)]
pub struct TotalCount {
    /// Items matching the filter, on all pages.
    pub total_count: i64,
}

pub type Page<T> = Connection<String, T, TotalCount>;

/// Which slice of a `total`-long list a request asks for: (offset, limit).
pub struct Window {
    pub offset: u64,
    pub limit: u64,
    end: u64,
}

const DEFAULT_PAGE: u64 = 20;

fn decode(cursor: &str) -> ApiResult<u64> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| s.strip_prefix("pos:").and_then(|n| n.parse::<u64>().ok()))
        // A position a list can have (a database offset is a signed 64-bit number).
        .filter(|n| i64::try_from(*n).is_ok())
        .ok_or_else(|| ApiError::BadInput(format!("`{cursor}` is not a cursor from this list")))
}

fn encode(pos: u64) -> String {
    URL_SAFE_NO_PAD.encode(format!("pos:{pos}"))
}

impl Window {
    pub fn new(
        after: Option<String>,
        before: Option<String>,
        first: Option<i32>,
        last: Option<i32>,
        total: u64,
    ) -> ApiResult<Window> {
        for (name, v) in [("first", first), ("last", last)] {
            if let Some(n) = v
                && !(1..=100).contains(&n)
            {
                return Err(ApiError::BadInput(format!("`{name}` must be between 1 and 100, not {n}")));
            }
        }
        let start = after.as_deref().map(decode).transpose()?.map_or(0, |a| a.saturating_add(1)).min(total);
        let end = before.as_deref().map(decode).transpose()?.unwrap_or(total).min(total).max(start);
        let (offset, limit) = match (first, last) {
            (Some(f), _) => (start, (f as u64).min(end - start)),
            (None, Some(l)) => (end.saturating_sub(l as u64).max(start), (l as u64).min(end - start)),
            (None, None) => (start, DEFAULT_PAGE.min(end - start)),
        };
        Ok(Window { offset, limit, end })
    }

    /// A window counted from the start when the total is not needed (see
    /// [`needs_total`]): the list is read one item past the page, to tell
    /// whether another page follows, and not counted.
    pub fn ahead(after: Option<String>, first: Option<i32>) -> ApiResult<Window> {
        Window::new(after, None, first, None, u64::MAX)
    }

    /// The slice to read for [`Window::ahead`]: the page and one more.
    pub fn slice_ahead(&self) -> smmflow_runtime::reads::Slice {
        smmflow_runtime::reads::Slice { offset: self.offset, limit: self.limit.saturating_add(1) }
    }

    /// The connection for what [`Window::slice_ahead`] read. Its total (not
    /// asked for) is the number of items up to the end of this page.
    pub fn page_ahead<T: OutputType>(&self, mut items: Vec<T>) -> Page<T> {
        let more = items.len() as u64 > self.limit;
        items.truncate(usize::try_from(self.limit).unwrap_or(usize::MAX));
        let total = self.offset.saturating_add(items.len() as u64).saturating_add(u64::from(more));
        Window { offset: self.offset, limit: self.limit, end: total }.page(items, total)
    }

    /// The slice of the list to read.
    pub fn slice(&self) -> smmflow_runtime::reads::Slice {
        smmflow_runtime::reads::Slice { offset: self.offset, limit: self.limit }
    }

    /// The connection for the items at this window.
    pub fn page<T: OutputType>(&self, items: Vec<T>, total: u64) -> Page<T> {
        let n = items.len() as u64;
        let mut c = Connection::with_additional_fields(
            self.offset > 0,
            self.offset + n < self.end,
            TotalCount { total_count: total as i64 },
        );
        c.edges.extend(items.into_iter().enumerate().map(|(i, node)| Edge::new(encode(self.offset + i as u64), node)));
        c
    }
}

/// Whether a connection must count its list: `totalCount` is asked for, or
/// the window is counted from the end (`last`, `before`). A client polling
/// for its next page does not pay for a count it does not read.
pub fn needs_total(ctx: &async_graphql::Context<'_>, before: Option<&String>, last: Option<i32>) -> bool {
    before.is_some() || last.is_some() || ctx.look_ahead().field("totalCount").exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_read_ahead_tells_whether_a_page_follows() {
        let w = Window::ahead(None, Some(2)).unwrap();
        assert_eq!((w.slice_ahead().offset, w.slice_ahead().limit), (0, 3));
        let p = w.page_ahead(vec![1, 2, 3]);
        assert_eq!(p.edges.len(), 2);
        assert!(p.has_next_page);
        let p = Window::ahead(Some(encode(1)), Some(2)).unwrap().page_ahead(vec![3]);
        assert_eq!(p.edges.len(), 1);
        assert!(!p.has_next_page);
        assert!(p.has_previous_page);
    }

    #[test]
    fn windows_follow_relay_rules() {
        let w = Window::new(None, None, Some(10), None, 25).unwrap();
        assert_eq!((w.offset, w.limit), (0, 10));
        let w = Window::new(Some(encode(9)), None, Some(10), None, 25).unwrap();
        assert_eq!((w.offset, w.limit), (10, 10));
        let w = Window::new(None, None, None, Some(5), 25).unwrap();
        assert_eq!((w.offset, w.limit), (20, 5));
        let w = Window::new(None, Some(encode(20)), None, Some(5), 25).unwrap();
        assert_eq!((w.offset, w.limit), (15, 5));
        assert!(Window::new(None, None, Some(0), None, 25).is_err());
        assert!(Window::new(None, None, Some(101), None, 25).is_err());
        assert!(Window::new(Some("junk".into()), None, Some(1), None, 25).is_err());
        // A forged cursor past any list's end is refused, not overflowed.
        assert!(Window::ahead(Some(encode(u64::MAX)), Some(1)).is_err());
        assert!(Window::new(Some(encode(i64::MAX as u64)), None, Some(1), None, 25).is_ok());
    }
}
