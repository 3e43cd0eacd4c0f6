//! `bookmark_search` (read-only) and `bookmark_add` (integrations domain):
//! the bookmarks of the person the agent is talking to.
//!
//! Both act only on that person's bookmarks (never another user's, never
//! without a person in the turn). Bookmark text was written by people,
//! agent keys and imported files, so a search result taints the turn. A
//! bookmark the agent adds is attributed to the agent, and its URL passes
//! the same rules as the API (http and https only).

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{ToolDef, ToolScope};
use crate::agents::runtime::Runtime;
use crate::bookmarks::{self as bm, BookmarkError, Creator, Draft, ListQuery};
use crate::trust::Domain;

/// Results a search returns to the model.
const HITS: usize = 10;

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SearchArgs {
    query: String,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AddArgs {
    url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    tags: Vec<String>,
}

fn search_schema() -> Value {
    json!({"type":"object","properties":{
        "query":{"type":"string","description":"words that must all appear in the title, description, URL or tags"}},
        "required":["query"],"additionalProperties":false})
}

fn add_schema() -> Value {
    json!({"type":"object","properties":{
        "url":{"type":"string","description":"an http or https URL"},
        "title":{"type":"string"},
        "description":{"type":"string"},
        "tags":{"type":"array","items":{"type":"string"},"maxItems":20}},
        "required":["url"],"additionalProperties":false})
}

pub(super) const SEARCH: ToolDef = ToolDef {
    name: "bookmark_search",
    domain: Domain::Integrations,
    read_only: true,
    taints: true,
    description: "Search the bookmarks of the person you are talking to.",
    schema: search_schema,
};

pub(super) const ADD: ToolDef = ToolDef {
    name: "bookmark_add",
    domain: Domain::Integrations,
    read_only: false,
    taints: false,
    description: "Bookmark a web page for the person you are talking to.",
    schema: add_schema,
};

/// The resolved target of an add: the normalised URL. A URL the API would
/// refuse is refused here, before any approval is asked for.
pub(super) fn add_target(a: &AddArgs) -> Result<String, String> {
    let u = bm::normalise::url(&a.url).map_err(|e| e.to_string())?;
    Ok(format!("bookmark:{}", u.norm))
}

fn person(scope: &ToolScope<'_>) -> Result<i64, String> {
    scope
        .user_id
        .ok_or_else(|| "there is no person in this conversation whose bookmarks these are".into())
}

pub(super) async fn search(
    rt: &Arc<Runtime>,
    scope: &ToolScope<'_>,
    a: SearchArgs,
) -> Result<String, String> {
    let user = person(scope)?;
    let page = bm::list(
        &rt.store,
        user,
        ListQuery {
            q: Some(a.query),
            limit: Some(HITS),
            ..ListQuery::default()
        },
    )
    .await
    .map_err(|e| e.to_string())?;
    if page.bookmarks.is_empty() {
        return Ok("no bookmarks matched".into());
    }
    Ok(page
        .bookmarks
        .iter()
        .map(|b| {
            let tags = if b.tags.is_empty() {
                String::new()
            } else {
                format!(" [{}]", b.tags.join(", "))
            };
            format!("- {} <{}>{tags}", b.title, b.url)
        })
        .collect::<Vec<_>>()
        .join("\n"))
}

pub(super) async fn add(
    rt: &Arc<Runtime>,
    scope: &ToolScope<'_>,
    a: AddArgs,
) -> Result<String, String> {
    let user = person(scope)?;
    let draft = Draft {
        url: a.url,
        title: a.title,
        description: a.description,
        tags: a.tags,
        ..Draft::default()
    };
    match bm::create(&rt.store, user, Creator::Agent(scope.agent.id), &draft).await {
        Ok(b) => Ok(format!("bookmarked {} (id {})", b.url, b.id)),
        Err(BookmarkError::Duplicate(id)) => Ok(format!("already bookmarked (id {id})")),
        Err(e) => Err(e.to_string()),
    }
}
