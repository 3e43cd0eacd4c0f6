//! `knowledge_search` (read-only): the agent's documents. Documents were
//! uploaded from outside, so a result taints the turn.

use std::sync::Arc;

use super::memory::{QueryArgs, query_schema};
use super::{ToolDef, ToolScope};
use crate::agents::knowledge;
use crate::agents::runtime::Runtime;
use crate::trust::Domain;

pub(super) const SEARCH: ToolDef = ToolDef {
    name: "knowledge_search",
    domain: Domain::Files,
    read_only: true,
    taints: true,
    description: "Search your knowledge documents. Cite results as [source: name].",
    schema: query_schema,
};

pub(super) async fn search(
    rt: &Arc<Runtime>,
    scope: &ToolScope<'_>,
    a: QueryArgs,
) -> Result<String, String> {
    let hits = knowledge::search(
        &rt.store,
        scope.agent.id,
        &a.query,
        5,
        scope.embedder.as_ref(),
    )
    .await
    .map_err(|e| e.to_string())?;
    if hits.is_empty() {
        return Ok("no documents matched".into());
    }
    Ok(hits
        .iter()
        .map(|h| format!("[source: {}]\n{}", h.doc_name, h.text))
        .collect::<Vec<_>>()
        .join("\n\n"))
}
