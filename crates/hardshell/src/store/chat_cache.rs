//! An in-memory cache of the chat reads on the hot paths: each
//! conversation's facts (members, routing) and rendered history pages, so
//! a member re-reading a conversation, or posting to it, needs no database
//! round trip.
//!
//! Correctness rests on the store's counters, never on callers:
//! - facts and pages belong to the credential cache's generation, which
//!   every `Store::write` and every commit by another process bumps, so
//!   membership, renames, agent changes and deletions invalidate them;
//! - pages also carry the message generation, which every message write
//!   (`Store::write_no_auth`) bumps after its commit;
//! - a lookup is stamped with both counters *before* it reads the
//!   database, and its result is kept only if neither has moved since, so
//!   a read racing a write can never outlive it.
//!
//! Membership is still decided on every request, from the cached member
//! list. This module must never hand out a page without that check, and
//! never serve anything when the generation cannot be checked.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use rusqlite::Connection;

use super::agents::{RoutingInfo, routing_info_conn};
use super::chat::{MessageRow, Ref, members_of, message_page};
use super::{Store, StoreError};

/// Conversations whose facts are kept; the map is emptied when it fills.
const MAX_CONVERSATIONS: usize = 4096;
/// Bytes of rendered pages kept in all; all pages go when it would overflow.
const MAX_PAGE_BYTES: usize = 8 << 20;
/// A larger page (long messages) is served but not kept.
const MAX_ONE_PAGE: usize = 512 << 10;

/// What the hot paths need to know about one conversation.
#[derive(Debug)]
pub struct ConversationFacts {
    /// Users by name, then agents by handle (as `ConversationRow::members`).
    pub members: Vec<Ref>,
    pub routing: RoutingInfo,
}

impl ConversationFacts {
    fn has_user(&self, user_id: i64) -> bool {
        self.members
            .iter()
            .any(|m| matches!(m, Ref::User { id, .. } if *id == user_id))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct PageKey {
    conversation_id: i64,
    before: i64,
    limit: usize,
}

struct Page {
    message_generation: u64,
    body: Bytes,
}

#[derive(Default)]
struct Entries {
    /// The credential generation every entry belongs to.
    generation: u64,
    /// `None`: the conversation does not exist.
    facts: HashMap<i64, Option<Arc<ConversationFacts>>>,
    pages: HashMap<PageKey, Page>,
    page_bytes: usize,
}

impl Entries {
    /// Drops everything if `stamp` is newer; false if `stamp` is older
    /// (its lookup may have raced a write, so it must not be kept).
    fn align(&mut self, stamp: u64) -> bool {
        if stamp < self.generation {
            return false;
        }
        if stamp > self.generation {
            *self = Entries {
                generation: stamp,
                ..Entries::default()
            };
        }
        true
    }
}

/// What the cache knows about a member's page request.
#[derive(Debug, PartialEq)]
enum PageLookup {
    Page(Bytes),
    /// The cached facts say: no such conversation, or not a member.
    NotMember,
    /// Ask the database (facts or page not cached, or not current).
    Miss,
}

/// The cache; one per open `Store`.
#[derive(Default)]
pub(crate) struct ChatCache {
    message_generation: AtomicU64,
    entries: Mutex<Entries>,
}

/// Counters read before a database lookup whose result may be cached.
#[derive(Clone, Copy)]
struct Stamp {
    generation: u64,
    message_generation: u64,
}

impl ChatCache {
    /// Forgets every page. Called after each message write commits.
    pub(crate) fn bump_messages(&self) {
        self.message_generation.fetch_add(1, Ordering::SeqCst);
    }

    fn facts(&self, generation: u64, cid: i64) -> Option<Option<Arc<ConversationFacts>>> {
        let entries = self.entries.lock().ok()?;
        if entries.generation != generation {
            return None;
        }
        entries.facts.get(&cid).cloned()
    }

    fn put_facts(&self, stamp: Stamp, cid: i64, facts: Option<Arc<ConversationFacts>>) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if !entries.align(stamp.generation) {
            return;
        }
        if entries.facts.len() >= MAX_CONVERSATIONS {
            entries.facts.clear();
        }
        entries.facts.insert(cid, facts);
    }

    fn page(&self, generation: u64, key: &PageKey) -> Option<Bytes> {
        let message_generation = self.message_generation.load(Ordering::SeqCst);
        let entries = self.entries.lock().ok()?;
        if entries.generation != generation {
            return None;
        }
        let page = entries.pages.get(key)?;
        (page.message_generation == message_generation).then(|| page.body.clone())
    }

    /// The hot path in one lock: a member's cached page, a known
    /// non-member (or missing conversation), or a miss.
    fn member_page(&self, generation: u64, user_id: i64, key: &PageKey) -> PageLookup {
        let message_generation = self.message_generation.load(Ordering::SeqCst);
        let Ok(entries) = self.entries.lock() else {
            return PageLookup::Miss;
        };
        if entries.generation != generation {
            return PageLookup::Miss;
        }
        match entries.facts.get(&key.conversation_id) {
            None => PageLookup::Miss,
            Some(facts) if !facts.as_ref().is_some_and(|f| f.has_user(user_id)) => {
                PageLookup::NotMember
            }
            Some(_) => match entries.pages.get(key) {
                Some(page) if page.message_generation == message_generation => {
                    PageLookup::Page(page.body.clone())
                }
                _ => PageLookup::Miss,
            },
        }
    }

    fn put_page(&self, stamp: Stamp, key: PageKey, body: Bytes) {
        if body.len() > MAX_ONE_PAGE {
            return;
        }
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        // Checked under the lock that `page` also takes, after the read.
        if stamp.message_generation != self.message_generation.load(Ordering::SeqCst)
            || !entries.align(stamp.generation)
        {
            return;
        }
        if entries.page_bytes + body.len() > MAX_PAGE_BYTES {
            entries.pages.clear();
            entries.page_bytes = 0;
        }
        entries.page_bytes += body.len();
        let page = Page {
            message_generation: stamp.message_generation,
            body,
        };
        if let Some(old) = entries.pages.insert(key, page) {
            entries.page_bytes -= old.body.len();
        }
    }
}

/// Everything `ConversationFacts` holds, read in one closure; `None` if
/// the conversation does not exist.
fn load_facts(conn: &Connection, cid: i64) -> Result<Option<ConversationFacts>, StoreError> {
    let Some(routing) = routing_info_conn(conn, cid)? else {
        return Ok(None);
    };
    Ok(Some(ConversationFacts {
        members: members_of(conn, cid)?,
        routing,
    }))
}

impl Store {
    fn chat_stamp(&self) -> Stamp {
        let cache = &self.inner.chat_cache;
        Stamp {
            generation: self.auth_stamp(),
            message_generation: cache.message_generation.load(Ordering::SeqCst),
        }
    }

    /// The facts of conversation `cid` (`None`: no such conversation),
    /// from the cache when they may be used, else from the database.
    pub async fn conversation_facts(
        &self,
        cid: i64,
    ) -> Result<Option<Arc<ConversationFacts>>, StoreError> {
        match self.cached_conversation_facts(cid) {
            Some(hit) => Ok(hit),
            None => self.load_conversation_facts(cid).await,
        }
    }

    /// The facts of conversation `cid` if they are cached and current
    /// (`Some(None)`: known not to exist). No database access.
    pub fn cached_conversation_facts(&self, cid: i64) -> Option<Option<Arc<ConversationFacts>>> {
        let generation = self.auth_generation()?;
        self.inner.chat_cache.facts(generation, cid)
    }

    async fn load_conversation_facts(
        &self,
        cid: i64,
    ) -> Result<Option<Arc<ConversationFacts>>, StoreError> {
        let stamp = self.chat_stamp();
        let facts = self.read(move |conn| load_facts(conn, cid)).await?;
        let facts = facts.map(Arc::new);
        self.inner.chat_cache.put_facts(stamp, cid, facts.clone());
        Ok(facts)
    }

    /// The facts of a conversation `user_id` belongs to (else `NotFound`).
    pub async fn facts_for_member(
        &self,
        cid: i64,
        user_id: i64,
    ) -> Result<Arc<ConversationFacts>, StoreError> {
        match self.conversation_facts(cid).await? {
            Some(f) if f.has_user(user_id) => Ok(f),
            _ => Err(StoreError::NotFound),
        }
    }

    /// A page of history for a member (else `NotFound`), the newest
    /// `limit` messages with id < `before`, oldest first, as `render`
    /// makes it. Rendered pages are shared by every member, so `render`
    /// must not depend on who asks.
    pub async fn message_page_rendered<R>(
        &self,
        cid: i64,
        user_id: i64,
        before: Option<i64>,
        limit: usize,
        render: R,
    ) -> Result<Bytes, StoreError>
    where
        R: FnOnce(&[MessageRow]) -> Result<Vec<u8>, StoreError> + Send + 'static,
    {
        let key = PageKey {
            conversation_id: cid,
            before: before.unwrap_or(i64::MAX),
            limit,
        };
        // The usual case, cached facts and page: one generation check and
        // one lock, membership decided under it.
        let generation = self.auth_generation();
        if let Some(g) = generation {
            match self.inner.chat_cache.member_page(g, user_id, &key) {
                PageLookup::Page(body) => return Ok(body),
                PageLookup::NotMember => return Err(StoreError::NotFound),
                PageLookup::Miss => {}
            }
        }
        // One generation check serves both lookups when the facts are a
        // hit; after a database read (an await) it must be taken again.
        let (facts, generation) = match generation.and_then(|g| self.inner.chat_cache.facts(g, cid))
        {
            Some(hit) => (hit, generation),
            None => (
                self.load_conversation_facts(cid).await?,
                self.auth_generation(),
            ),
        };
        if !facts.is_some_and(|f| f.has_user(user_id)) {
            return Err(StoreError::NotFound);
        }
        if let Some(generation) = generation
            && let Some(body) = self.inner.chat_cache.page(generation, &key)
        {
            return Ok(body);
        }
        let stamp = self.chat_stamp();
        let body = self
            .read(move |conn| {
                let page = message_page(conn, key.conversation_id, key.before, key.limit)?;
                render(&page)
            })
            .await?;
        let body = Bytes::from(body);
        self.inner.chat_cache.put_page(stamp, key, body.clone());
        Ok(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(before: i64) -> PageKey {
        PageKey {
            conversation_id: 1,
            before,
            limit: 50,
        }
    }

    fn stamp(cache: &ChatCache, generation: u64) -> Stamp {
        Stamp {
            generation,
            message_generation: cache.message_generation.load(Ordering::SeqCst),
        }
    }

    #[test]
    fn a_read_that_raced_a_message_write_is_not_kept() {
        let cache = ChatCache::default();
        let before_write = stamp(&cache, 1);
        cache.bump_messages();
        cache.put_page(before_write, key(9), Bytes::from_static(b"old"));
        assert_eq!(cache.page(1, &key(9)), None);
        cache.put_page(stamp(&cache, 1), key(9), Bytes::from_static(b"new"));
        assert_eq!(cache.page(1, &key(9)).as_deref(), Some(&b"new"[..]));
        cache.bump_messages();
        assert_eq!(cache.page(1, &key(9)), None, "a later write hides it");
    }

    /// A group whose one member is user 7.
    fn ann_in_a_group() -> Arc<ConversationFacts> {
        Arc::new(ConversationFacts {
            members: vec![Ref::User {
                id: 7,
                name: "ann".into(),
            }],
            routing: RoutingInfo {
                kind: "group".into(),
                default_agent_id: None,
                agents: Vec::new(),
            },
        })
    }

    #[test]
    fn a_read_that_raced_any_other_write_is_not_kept() {
        let cache = ChatCache::default();
        cache.put_page(stamp(&cache, 5), key(1), Bytes::from_static(b"p"));
        let facts = ann_in_a_group();
        cache.put_facts(stamp(&cache, 5), 1, Some(Arc::clone(&facts)));
        // Stamped before generation 5 began: dropped.
        cache.put_facts(stamp(&cache, 4), 2, None);
        cache.put_page(stamp(&cache, 4), key(2), Bytes::from_static(b"q"));
        assert!(cache.facts(5, 2).is_none());
        assert_eq!(cache.page(5, &key(2)), None);
        assert!(
            cache
                .facts(5, 1)
                .is_some_and(|f| f.is_some_and(|f| f.has_user(7)))
        );
        // Nothing is served for another generation; a newer stamp clears all.
        assert!(cache.facts(6, 1).is_none());
        cache.put_facts(stamp(&cache, 6), 3, None);
        assert!(cache.facts(6, 1).is_none());
        assert_eq!(cache.page(6, &key(1)), None);
        assert!(matches!(cache.facts(6, 3), Some(None)));
    }

    #[test]
    fn the_one_lock_lookup_checks_membership_generation_and_messages() {
        let cache = ChatCache::default();
        let facts = ann_in_a_group();
        assert_eq!(cache.member_page(1, 7, &key(1)), PageLookup::Miss);
        cache.put_page(stamp(&cache, 1), key(1), Bytes::from_static(b"p"));
        // A cached page without cached facts is never served.
        assert_eq!(cache.member_page(1, 7, &key(1)), PageLookup::Miss);
        cache.put_facts(stamp(&cache, 1), 1, Some(facts));
        assert_eq!(
            cache.member_page(1, 7, &key(1)),
            PageLookup::Page(Bytes::from_static(b"p"))
        );
        // Someone else asking for the same cached page: refused.
        assert_eq!(cache.member_page(1, 8, &key(1)), PageLookup::NotMember);
        // Another generation, or a message written since: ask the database.
        assert_eq!(cache.member_page(2, 7, &key(1)), PageLookup::Miss);
        cache.bump_messages();
        assert_eq!(cache.member_page(1, 7, &key(1)), PageLookup::Miss);
        assert_eq!(cache.member_page(1, 8, &key(1)), PageLookup::NotMember);
        // A conversation known not to exist.
        cache.put_facts(stamp(&cache, 1), 2, None);
        let gone = PageKey {
            conversation_id: 2,
            ..key(1)
        };
        assert_eq!(cache.member_page(1, 7, &gone), PageLookup::NotMember);
    }

    #[test]
    fn pages_stay_within_their_byte_budget() {
        let cache = ChatCache::default();
        let huge = Bytes::from(vec![b'x'; MAX_ONE_PAGE + 1]);
        cache.put_page(stamp(&cache, 1), key(1), huge);
        assert_eq!(cache.page(1, &key(1)), None, "too large to keep");
        let big = Bytes::from(vec![b'y'; MAX_ONE_PAGE]);
        let fits = MAX_PAGE_BYTES / MAX_ONE_PAGE;
        for i in 0..=fits as i64 {
            cache.put_page(stamp(&cache, 1), key(i), big.clone());
        }
        let entries = cache.entries.lock().unwrap();
        assert!(entries.page_bytes <= MAX_PAGE_BYTES);
        assert_eq!(
            entries.page_bytes,
            entries.pages.values().map(|p| p.body.len()).sum::<usize>()
        );
        assert!(entries.pages.contains_key(&key(fits as i64)), "newest kept");
    }
}
