//! Trust levels (`store::trust::TrustStore`) and tool rules
//! (`store::tool_rules::ToolRuleStore`).

use std::sync::Arc;

use hardshell::store::tool_rules::{SecretBinding, ToolRuleStore};
use hardshell::store::trust::{ChangeBy, TrustStore};

use crate::Fixture;

both_fx!(levels_change_with_their_history);
both_fx!(racing_failures_demote_one_step_at_a_time);
both_fx!(bindings_and_allow_rules);

async fn agents(fx: &Fixture) {
    fx.exec(
        "INSERT INTO users (id, uuid, username, role, created_at)
         VALUES (1, 'u-1', 'owner', 'owner', '2026-01-01T00:00:00Z')",
    )
    .await;
    for id in [1, 2] {
        fx.exec(&format!(
            "INSERT INTO agents (id, uuid, handle, name, created_at)
             VALUES ({id}, 'a-{id}', 'bot{id}', 'Bot', 0)"
        ))
        .await;
    }
}

fn by(reason: &str) -> ChangeBy {
    ChangeBy {
        reason: reason.into(),
        actor_kind: "user".into(),
        actor_id: "1".into(),
    }
}

async fn levels_change_with_their_history<S: TrustStore + 'static>(s: Arc<S>, fx: Fixture) {
    agents(&fx).await;
    assert_eq!(s.trust_level(1, "web").await.unwrap(), None);
    assert!(s.trust_levels(1).await.unwrap().is_empty());
    // From the default when unset.
    let c = s.trust_set(1, "web", 2, 3, by("raise")).await.unwrap();
    assert_eq!((c.old_level, c.new_level), (2, 3));
    assert_eq!((c.agent_id, c.domain.as_str()), (1, "web"));
    assert_eq!(s.trust_level(1, "web").await.unwrap(), Some(3));
    s.trust_set(1, "files", 2, 1, by("lower")).await.unwrap();
    s.trust_set(2, "web", 2, 4, by("other agent"))
        .await
        .unwrap();
    assert_eq!(
        s.trust_levels(1).await.unwrap(),
        [("files".to_string(), 1), ("web".to_string(), 3)]
    );

    // Failures: the streak demotes at the threshold; a success clears it.
    assert!(
        s.trust_record_outcome(1, "web", 2, false, 3)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        s.trust_record_outcome(1, "web", 2, true, 3)
            .await
            .unwrap()
            .is_none()
    );
    for _ in 0..2 {
        assert!(
            s.trust_record_outcome(1, "web", 2, false, 3)
                .await
                .unwrap()
                .is_none()
        );
    }
    let demoted = s
        .trust_record_outcome(1, "web", 2, false, 3)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((demoted.old_level, demoted.new_level), (3, 2));
    assert_eq!(demoted.actor_kind, "system");
    assert!(demoted.reason.contains("3 failed"), "{}", demoted.reason);
    // Never below 0; an unset domain starts from the default.
    s.trust_set(1, "shell", 0, 0, by("zero")).await.unwrap();
    for _ in 0..4 {
        assert!(
            s.trust_record_outcome(1, "shell", 0, false, 1)
                .await
                .unwrap()
                .is_none()
        );
    }
    assert_eq!(s.trust_level(1, "shell").await.unwrap(), Some(0));
    assert!(
        s.trust_record_outcome(1, "mail", 2, false, 1)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(s.trust_level(1, "mail").await.unwrap(), Some(1));

    // History: newest first, per agent or all; one change by id.
    let mine = s.trust_history(Some(1), 100).await.unwrap();
    assert_eq!(mine.len(), 5);
    assert!(mine.windows(2).all(|w| w[0].id > w[1].id));
    assert_eq!(s.trust_history(None, 100).await.unwrap().len(), 6);
    assert_eq!(s.trust_history(Some(1), 2).await.unwrap().len(), 2);
    let one = s.trust_change(demoted.id).await.unwrap().unwrap();
    assert_eq!((one.old_level, one.new_level), (3, 2));
    assert!(s.trust_change(999_999).await.unwrap().is_none());
}

/// Many failures of one (agent, domain) at once: they demote exactly as if
/// they had come one after the other, and the history chains. On
/// PostgreSQL this needs the level lock: two transactions would otherwise
/// read the same level and both write "4 → 3".
async fn racing_failures_demote_one_step_at_a_time<S: TrustStore + 'static>(
    s: Arc<S>,
    fx: Fixture,
) {
    agents(&fx).await;
    s.trust_set(1, "web", 2, 4, by("start")).await.unwrap();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let s = Arc::clone(&s);
        tasks.push(tokio::spawn(async move {
            s.trust_record_outcome(1, "web", 2, false, 2).await
        }));
    }
    let mut demotions = 0;
    for t in tasks {
        if t.await.unwrap().unwrap().is_some() {
            demotions += 1;
        }
    }
    // 8 failures, 2 per step: 4 → 0 in four steps.
    assert_eq!(demotions, 4);
    assert_eq!(s.trust_level(1, "web").await.unwrap(), Some(0));
    let mut history = s.trust_history(Some(1), 100).await.unwrap();
    history.reverse();
    let steps: Vec<(u8, u8)> = history.iter().map(|c| (c.old_level, c.new_level)).collect();
    assert_eq!(steps, [(2, 4), (4, 3), (3, 2), (2, 1), (1, 0)]);
}

async fn bindings_and_allow_rules<S: ToolRuleStore + 'static>(s: Arc<S>, fx: Fixture) {
    agents(&fx).await;
    let binding = SecretBinding {
        scheme: "https".into(),
        host: "api.example.org".into(),
        port: 443,
        path_prefix: Some("/v1/".into()),
        slots: vec!["header:Authorization".into()],
    };
    assert!(s.secret_bindings().await.unwrap().is_empty());
    s.secret_bind("GITHUB", binding.clone()).await.unwrap();
    let mut moved = binding.clone();
    moved.host = "api.github.com".into();
    moved.path_prefix = None;
    s.secret_bind("GITHUB", moved.clone()).await.unwrap();
    s.secret_bind("ALPHA", binding.clone()).await.unwrap();
    let all = s.secret_bindings().await.unwrap();
    assert_eq!(
        all.iter().map(|b| b.name.as_str()).collect::<Vec<_>>(),
        ["ALPHA", "GITHUB"]
    );
    assert_eq!(
        s.secret_binding("GITHUB").await.unwrap().unwrap().binding,
        moved
    );
    assert!(s.secret_binding("NONE").await.unwrap().is_none());
    assert!(s.secret_unbind("GITHUB").await.unwrap());
    assert!(!s.secret_unbind("GITHUB").await.unwrap());

    let r = s
        .allow_rule_add(1, "http_fetch", "host:example.org", Some(1))
        .await
        .unwrap();
    let same = s
        .allow_rule_add(1, "http_fetch", "host:example.org", None)
        .await
        .unwrap();
    assert_eq!((same.id, same.created_by), (r.id, Some(1)));
    // Two identical adds at once: one rule, the same id for both.
    let (s1, s2) = (Arc::clone(&s), Arc::clone(&s));
    let (a, b) = tokio::join!(
        tokio::spawn(async move {
            s1.allow_rule_add(2, "file_write", "path:/notes/", None)
                .await
        }),
        tokio::spawn(async move {
            s2.allow_rule_add(2, "file_write", "path:/notes/", None)
                .await
        }),
    );
    assert_eq!(a.unwrap().unwrap().id, b.unwrap().unwrap().id);
    s.allow_rule_add(1, "file_write", "path:/tmp/", None)
        .await
        .unwrap();
    assert_eq!(s.allow_rules(None).await.unwrap().len(), 3);
    let fetch = s.allow_rules(Some((1, "http_fetch".into()))).await.unwrap();
    assert_eq!(fetch.iter().map(|x| x.id).collect::<Vec<_>>(), [r.id]);
    let removed = s.allow_rule_remove(r.id).await.unwrap().unwrap();
    assert_eq!(removed.scope, "host:example.org");
    assert!(s.allow_rule_remove(r.id).await.unwrap().is_none());
    assert!(
        s.allow_rules(Some((1, "http_fetch".into())))
            .await
            .unwrap()
            .is_empty()
    );
}
