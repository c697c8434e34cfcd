//! Parsed documents, remembered by their text: a client sends the same few
//! queries again and again (a poll, claim, complete), so each text is
//! parsed (and checked for nesting and directives) once per process, and
//! later requests start from a copy of that document. Only documents that
//! passed are remembered; validation still runs on every request (it
//! depends on the variables, and the cost it computes is charged each time).
//! Bounded: at most [`CAPACITY`] texts of at most [`MAX_TEXT`] bytes each;
//! a full cache starts again empty, so a client sending endless distinct
//! texts costs itself parsing and nobody else anything.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery};
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{ServerResult, Variables};

/// The most documents remembered.
const CAPACITY: usize = 512;
/// Longer texts are parsed every time (they are rare, and large to keep).
const MAX_TEXT: usize = 16 * 1024;

#[derive(Default)]
struct Documents(Mutex<HashMap<String, ExecutableDocument>>);

impl Documents {
    fn get(&self, text: &str) -> Option<ExecutableDocument> {
        self.0.lock().ok()?.get(text).cloned()
    }

    fn put(&self, text: &str, doc: &ExecutableDocument) {
        if text.len() > MAX_TEXT {
            return;
        }
        let Ok(mut docs) = self.0.lock() else { return };
        if docs.len() >= CAPACITY {
            docs.clear();
        }
        docs.insert(text.to_string(), doc.clone());
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.0.lock().map(|d| d.len()).unwrap_or(0)
    }
}

/// The extension (one cache for the schema, shared by every request).
#[derive(Default)]
pub struct ParseCache(Arc<Documents>);

impl ExtensionFactory for ParseCache {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Remember(self.0.clone()))
    }
}

struct Remember(Arc<Documents>);

#[async_graphql::async_trait::async_trait]
impl Extension for Remember {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        if let Some(doc) = self.0.get(query) {
            return Ok(doc);
        }
        let doc = next.run(ctx, query, variables).await?;
        self.0.put(query, &doc);
        Ok(doc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(text: &str) -> ExecutableDocument {
        async_graphql::parser::parse_query(text).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_text_is_remembered_and_the_cache_stays_bounded() {
        let d = Documents::default();
        let q = "{ viewer { login } }";
        assert!(d.get(q).is_none());
        d.put(q, &doc(q));
        assert!(d.get(q).is_some());
        for n in 0..CAPACITY + 5 {
            let t = format!("{{ a{n}: viewer {{ login }} }}");
            d.put(&t, &doc(&t));
        }
        assert!(d.len() <= CAPACITY, "{}", d.len());
        let long = format!("{{ viewer {{ login }} }}{}", " ".repeat(MAX_TEXT));
        d.put(&long, &doc(&long));
        assert!(d.get(&long).is_none(), "long texts are not kept");
    }
}
