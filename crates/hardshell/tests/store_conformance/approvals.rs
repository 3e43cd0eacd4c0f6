//! The approvals aggregate (`store::approvals::ApprovalStore`).

use std::sync::Arc;

use hardshell::store::StoreError;
use hardshell::store::approvals::{ApprovalStore, NewApproval, Requested};

use crate::Fixture;

both_fx!(approvals_move_once_through_their_states);
both_fx!(racing_deciders_and_identical_requests_each_happen_once);

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// One agent (id 1), one conversation (id 1) and deciders (users 1, 2, 7),
/// written around the store.
async fn agent_and_conversation(fx: &Fixture) {
    for id in [1, 2, 7] {
        fx.exec(&format!(
            "INSERT INTO users (id, uuid, username, role, created_at)
             VALUES ({id}, 'u-{id}', 'decider{id}', 'owner', '2026-01-01T00:00:00Z')"
        ))
        .await;
    }
    fx.exec("INSERT INTO agents (id, uuid, handle, name, created_at) VALUES (1, 'a-1', 'bot', 'Bot', 0)")
        .await;
    fx.exec(
        "INSERT INTO conversations (id, kind, title, created_at, last_activity_at)
         VALUES (1, 'group', 'g', 0, 0)",
    )
    .await;
}

fn request(fingerprint: &str, expires_at: i64) -> NewApproval {
    NewApproval {
        agent_id: 1,
        conversation_id: 1,
        tool: "http_fetch".into(),
        domain: "web".into(),
        fingerprint: fingerprint.into(),
        target: "GET https://example.org/".into(),
        arguments: "{\"url\":\"https://example.org/\"}".into(),
        taint_source: Some("tool:http_fetch".into()),
        reason: "trust level 1 for web".into(),
        expires_at,
        parked: format!("{{\"turn\":\"{fingerprint}\"}}"),
    }
}

async fn approvals_move_once_through_their_states<S: ApprovalStore + 'static>(
    s: Arc<S>,
    fx: Fixture,
) {
    agent_and_conversation(&fx).await;
    let t = now();
    let Requested::New(a) = s.approval_request(request("aa", t + 600)).await.unwrap() else {
        panic!("a first request is new");
    };
    assert_eq!((a.status.as_str(), a.merged), ("pending", 0));
    assert_eq!(a.taint_source.as_deref(), Some("tool:http_fetch"));
    let Requested::Merged(same) = s.approval_request(request("aa", t + 600)).await.unwrap() else {
        panic!("an identical pending request merges");
    };
    assert_eq!((same.id, same.merged), (a.id, 1));
    let Requested::New(b) = s.approval_request(request("bb", t + 600)).await.unwrap() else {
        panic!("another call is another request");
    };
    assert_eq!(s.approvals_pending_count().await.unwrap(), 2);
    let listed = s.approval_list(None, 10).await.unwrap();
    assert_eq!(
        listed.iter().map(|r| r.id).collect::<Vec<_>>(),
        [b.id, a.id]
    );
    assert_eq!(s.approval_list(None, 1).await.unwrap().len(), 1);
    assert!(
        s.approval_list(Some("approved".into()), 10)
            .await
            .unwrap()
            .is_empty()
    );

    // Not approved yet: nothing dispatches, nothing resumes.
    assert!(!s.approval_dispatch(a.id, "aa").await.unwrap());
    assert!(s.approvals_resumable().await.unwrap().is_empty());
    assert_eq!(s.approval_claim(a.id).await.unwrap(), None);

    let decided = s.approval_decide(a.id, true, 7).await.unwrap();
    assert_eq!(decided.status, "approved");
    assert_eq!(decided.decided_by, Some(7));
    let again = s.approval_decide(a.id, false, 7).await.unwrap_err();
    assert!(
        matches!(&again, StoreError::Conflict(m) if m.contains("approved")),
        "{again}"
    );
    assert!(matches!(
        s.approval_decide(999_999, true, 7).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        s.approval_list(Some("approved".into()), 10)
            .await
            .unwrap()
            .len(),
        1
    );

    // Dispatch: only with the approved call's fingerprint, and once.
    assert!(!s.approval_dispatch(a.id, "bb").await.unwrap());
    assert!(s.approval_dispatch(a.id, "aa").await.unwrap());
    assert!(!s.approval_dispatch(a.id, "aa").await.unwrap());
    let got = s.approval_get(a.id).await.unwrap().unwrap();
    assert_eq!(got.status, "dispatched");
    assert!(got.dispatched_at.is_some());
    assert!(s.approval_get(999_999).await.unwrap().is_none());

    // The parked turn: resumable once decided, claimed once, released by
    // a restart only until it has resumed.
    assert_eq!(s.approvals_resumable().await.unwrap(), [a.id]);
    assert_eq!(
        s.approval_claim(a.id).await.unwrap().as_deref(),
        Some("{\"turn\":\"aa\"}")
    );
    assert_eq!(s.approval_claim(a.id).await.unwrap(), None);
    assert!(s.approvals_resumable().await.unwrap().is_empty());
    assert_eq!(s.approvals_release_claims().await.unwrap(), 1);
    assert_eq!(s.approvals_resumable().await.unwrap(), [a.id]);
    assert!(s.approval_claim(a.id).await.unwrap().is_some());
    s.approval_resumed(a.id).await.unwrap();
    assert_eq!(s.approvals_release_claims().await.unwrap(), 0);
    assert!(s.approvals_resumable().await.unwrap().is_empty());

    // Denied is decided too; an overdue request cannot be decided and is
    // swept once.
    s.approval_decide(b.id, false, 7).await.unwrap();
    let Requested::New(late) = s.approval_request(request("cc", t - 1)).await.unwrap() else {
        panic!("new");
    };
    let err = s.approval_decide(late.id, true, 7).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::Conflict(m) if m.contains("expired")),
        "{err}"
    );
    let swept = s.approvals_expire(t).await.unwrap();
    assert_eq!(swept.iter().map(|r| r.id).collect::<Vec<_>>(), [late.id]);
    assert_eq!(swept[0].status, "expired");
    assert!(s.approvals_expire(t).await.unwrap().is_empty());
    assert_eq!(s.approvals_pending_count().await.unwrap(), 0);
}

/// Two deciders press at once, and a looping model files the same call
/// twice at once, many times over: one decision wins, and the two
/// requests become one request merged once. On PostgreSQL the second needs
/// the request lock: both would find nothing pending and both insert.
async fn racing_deciders_and_identical_requests_each_happen_once<S: ApprovalStore + 'static>(
    s: Arc<S>,
    fx: Fixture,
) {
    agent_and_conversation(&fx).await;
    let t = now();
    for round in 0..20 {
        let fp = format!("fp-{round}");
        let (s1, s2) = (Arc::clone(&s), Arc::clone(&s));
        let (f1, f2) = (fp.clone(), fp.clone());
        let (ra, rb) = tokio::join!(
            tokio::spawn(async move { s1.approval_request(request(&f1, t + 600)).await }),
            tokio::spawn(async move { s2.approval_request(request(&f2, t + 600)).await }),
        );
        let (ra, rb) = (ra.unwrap().unwrap(), rb.unwrap().unwrap());
        let id = match (&ra, &rb) {
            (Requested::New(n), Requested::Merged(m))
            | (Requested::Merged(m), Requested::New(n)) => {
                assert_eq!((m.id, m.merged), (n.id, 1), "round {round}");
                n.id
            }
            _ => panic!("round {round}: one request must be new and the other merged"),
        };
        let (s1, s2) = (Arc::clone(&s), Arc::clone(&s));
        let (da, db) = tokio::join!(
            tokio::spawn(async move { s1.approval_decide(id, true, 1).await }),
            tokio::spawn(async move { s2.approval_decide(id, false, 2).await }),
        );
        let (da, db) = (da.unwrap(), db.unwrap());
        assert!(da.is_ok() != db.is_ok(), "round {round}: {da:?} / {db:?}");
        let loser = if da.is_ok() { db } else { da };
        assert!(matches!(loser, Err(StoreError::Conflict(_))));
    }
}
