//! The credentials aggregate (`store::credentials::CredentialStore`), with
//! the users one beside it (disabling a user must end their sessions).

use std::sync::Arc;

use hardshell::auth::Role;
use hardshell::store::StoreError;
use hardshell::store::auth::{
    NewAgentKey, NewSession, NewToken, RefreshOutcome, SessionKind, SessionOwner, SetupOutcome,
};
use hardshell::store::credentials::CredentialStore;
use hardshell::store::users::UserStore;

both!(sessions_expire_idle_out_and_revoke);
both!(refresh_rotates_once_and_reuse_kills_the_family);
both!(racing_refresh_presentations_never_both_rotate);
both!(setup_creates_one_owner_once);
both!(agent_keys_follow_revocation_and_their_creator);
both!(identity_keys_replace_the_old_one);

const IDLE: i64 = 7200;
const DAY: i64 = 86_400;

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn h(n: u8) -> [u8; 32] {
    [n; 32]
}

fn web(user: i64, at: i64) -> NewSession {
    NewSession {
        owner: SessionOwner::User(user),
        kind: SessionKind::Web,
        csrf_hash: Some(h(200)),
        expires_at: at + DAY,
        ip: Some("127.0.0.1".into()),
    }
}

fn token(hash: [u8; 32], kind: &'static str, expires_at: i64) -> NewToken {
    NewToken {
        hash,
        kind,
        expires_at,
    }
}

async fn sessions_expire_idle_out_and_revoke<S: CredentialStore + UserStore + 'static>(s: Arc<S>) {
    let t = now();
    let owner = s
        .user_create("own".into(), Role::Owner, None)
        .await
        .unwrap();
    let user = s.user_create("u".into(), Role::Member, None).await.unwrap();
    let (sid, public) = s
        .session_create(web(user.id, t), vec![token(h(1), "cookie", t + DAY)])
        .await
        .unwrap();
    let found = s
        .session_by_token(h(1), "cookie", t + 60, IDLE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.session_id, sid);
    assert_eq!(found.public_id, public);
    assert_eq!(found.kind, SessionKind::Web);
    assert_eq!(found.csrf_hash.as_deref(), Some(&h(200)[..]));
    assert_eq!(found.user.as_ref().map(|u| u.id), Some(user.id));
    assert!(found.agent_key.is_none());
    // A cookie is not an access token; an unknown hash is nothing.
    assert!(
        s.session_by_token(h(1), "access", t, IDLE)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        s.session_by_token(h(99), "cookie", t, IDLE)
            .await
            .unwrap()
            .is_none()
    );
    // Idle out, then kept alive by activity, never past the absolute end.
    assert!(
        s.session_by_token(h(1), "cookie", t + IDLE + 5, IDLE)
            .await
            .unwrap()
            .is_none()
    );
    s.session_touch(sid, t + DAY - 60).await.unwrap();
    assert!(
        s.session_by_token(h(1), "cookie", t + DAY - 30, IDLE)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        s.session_by_token(h(1), "cookie", t + DAY + 1, IDLE)
            .await
            .unwrap()
            .is_none()
    );

    // Listing: newest first, the current one marked; another user cannot
    // revoke it by its public id.
    let (sid2, public2) = s
        .session_create(web(user.id, t), vec![token(h(2), "cookie", t + DAY)])
        .await
        .unwrap();
    let list = s.sessions_list(user.id, Some(sid), t).await.unwrap();
    assert_eq!(
        list.iter().map(|x| x.id.as_str()).collect::<Vec<_>>(),
        [public2.as_str(), public.as_str()]
    );
    assert!(list[1].current && !list[0].current);
    assert!(
        !s.session_revoke_public(owner.id, public.clone())
            .await
            .unwrap()
    );
    assert!(
        s.session_revoke_public(user.id, public.clone())
            .await
            .unwrap()
    );
    assert!(!s.session_revoke_public(user.id, public).await.unwrap());
    assert!(
        s.session_by_token(h(1), "cookie", t, IDLE)
            .await
            .unwrap()
            .is_none()
    );
    assert!(s.session_revoke(sid2).await.unwrap());
    assert!(!s.session_revoke(sid2).await.unwrap());
    assert!(
        s.session_by_token(h(2), "cookie", t, IDLE)
            .await
            .unwrap()
            .is_none()
    );

    // Disabling the user ends every session; revoke-all counts live ones.
    s.session_create(web(user.id, t), vec![token(h(3), "cookie", t + DAY)])
        .await
        .unwrap();
    assert!(
        s.session_by_token(h(3), "cookie", t, IDLE)
            .await
            .unwrap()
            .is_some()
    );
    s.user_set_disabled(user.id, true).await.unwrap();
    assert!(
        s.session_by_token(h(3), "cookie", t, IDLE)
            .await
            .unwrap()
            .is_none()
    );
    s.user_set_disabled(user.id, false).await.unwrap();
    assert!(
        s.session_by_token(h(3), "cookie", t, IDLE)
            .await
            .unwrap()
            .is_none()
    );
    s.session_create(web(user.id, t), vec![token(h(4), "cookie", t + DAY)])
        .await
        .unwrap();
    s.session_create(web(user.id, t), vec![token(h(5), "cookie", t + DAY)])
        .await
        .unwrap();
    assert_eq!(s.sessions_revoke_all(user.id).await.unwrap(), 2);
    assert!(s.sessions_list(user.id, None, t).await.unwrap().is_empty());
}

async fn bearer_family<S: CredentialStore + UserStore>(
    s: &S,
    user: i64,
    t: i64,
    access: u8,
    refresh: u8,
) -> i64 {
    s.session_create(
        NewSession {
            owner: SessionOwner::User(user),
            kind: SessionKind::Token,
            csrf_hash: None,
            expires_at: t + 30 * DAY,
            ip: None,
        },
        vec![
            token(h(access), "access", t + 3600),
            token(h(refresh), "refresh", t + 30 * DAY),
        ],
    )
    .await
    .unwrap()
    .0
}

async fn refresh_rotates_once_and_reuse_kills_the_family<
    S: CredentialStore + UserStore + 'static,
>(
    s: Arc<S>,
) {
    let t = now();
    let user = s.user_create("u".into(), Role::Owner, None).await.unwrap();
    bearer_family(&*s, user.id, t, 10, 11).await;
    let next = vec![
        token(h(12), "access", t + 3600),
        token(h(13), "refresh", t + DAY),
    ];
    match s.refresh_rotate(h(11), t, next).await.unwrap() {
        RefreshOutcome::Rotated { user: u, .. } => assert_eq!(u.id, user.id),
        _ => panic!("a fresh refresh token must rotate"),
    }
    // The access token issued before the refresh ends with it.
    assert!(
        s.session_by_token(h(10), "access", t, IDLE)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        s.session_by_token(h(12), "access", t, IDLE)
            .await
            .unwrap()
            .is_some()
    );
    // Presenting the spent one again is reuse: the whole family dies.
    assert!(matches!(
        s.refresh_rotate(h(11), t, vec![token(h(14), "access", t + 3600)])
            .await
            .unwrap(),
        RefreshOutcome::Reused { user_id, .. } if user_id == user.id
    ));
    assert!(
        s.session_by_token(h(12), "access", t, IDLE)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        s.session_by_token(h(14), "access", t, IDLE)
            .await
            .unwrap()
            .is_none()
    );
    assert!(matches!(
        s.refresh_rotate(h(13), t, vec![]).await.unwrap(),
        RefreshOutcome::Invalid
    ));
    assert!(matches!(
        s.refresh_rotate(h(99), t, vec![]).await.unwrap(),
        RefreshOutcome::Invalid
    ));
    // An access token is not a refresh token.
    bearer_family(&*s, user.id, t, 20, 21).await;
    assert!(matches!(
        s.refresh_rotate(h(20), t, vec![]).await.unwrap(),
        RefreshOutcome::Invalid
    ));
}

/// Two clients present the same refresh token at once, many times over:
/// one rotates, the other is reuse, and the family ends. On PostgreSQL
/// this needs the token's row lock; without it both would read the token
/// unspent and both would rotate.
async fn racing_refresh_presentations_never_both_rotate<
    S: CredentialStore + UserStore + 'static,
>(
    s: Arc<S>,
) {
    let t = now();
    let user = s.user_create("u".into(), Role::Owner, None).await.unwrap();
    for round in 0..20u8 {
        let base = 10 + round * 5;
        bearer_family(&*s, user.id, t, base, base + 1).await;
        let (s1, s2) = (Arc::clone(&s), Arc::clone(&s));
        let a = vec![token(h(base + 2), "access", t + 3600)];
        let b = vec![token(h(base + 3), "access", t + 3600)];
        let (ra, rb) = tokio::join!(
            tokio::spawn(async move { s1.refresh_rotate(h(base + 1), t, a).await }),
            tokio::spawn(async move { s2.refresh_rotate(h(base + 1), t, b).await }),
        );
        let kinds = [ra.unwrap().unwrap(), rb.unwrap().unwrap()].map(|o| match o {
            RefreshOutcome::Rotated { .. } => "rotated",
            RefreshOutcome::Reused { .. } => "reused",
            RefreshOutcome::Invalid => "invalid",
        });
        let mut sorted = kinds;
        sorted.sort();
        assert_eq!(sorted, ["reused", "rotated"], "round {round}");
        for n in [base + 2, base + 3] {
            assert!(
                s.session_by_token(h(n), "access", t, IDLE)
                    .await
                    .unwrap()
                    .is_none(),
                "round {round}: the family must be dead after reuse"
            );
        }
    }
}

async fn setup_creates_one_owner_once<S: CredentialStore + UserStore + 'static>(s: Arc<S>) {
    let t = now();
    s.setup_token_replace(h(1), t + 600).await.unwrap();
    // A new start invalidates the old setup URL.
    s.setup_token_replace(h(2), t + 600).await.unwrap();
    assert!(matches!(
        s.setup_create_owner(h(1), t, "root".into(), "phc".into())
            .await
            .unwrap(),
        SetupOutcome::BadToken
    ));
    // Expired.
    assert!(matches!(
        s.setup_create_owner(h(2), t + 601, "root".into(), "phc".into())
            .await
            .unwrap(),
        SetupOutcome::BadToken
    ));
    assert!(!s.owner_exists().await.unwrap());
    // Two setups race with the one token: one owner.
    let (s1, s2) = (Arc::clone(&s), Arc::clone(&s));
    let (ra, rb) = tokio::join!(
        tokio::spawn(async move {
            s1.setup_create_owner(h(2), t, "root".into(), "a".into())
                .await
        }),
        tokio::spawn(async move {
            s2.setup_create_owner(h(2), t, "boss".into(), "b".into())
                .await
        }),
    );
    let created = [ra.unwrap().unwrap(), rb.unwrap().unwrap()]
        .iter()
        .filter(|o| matches!(o, SetupOutcome::Created(_)))
        .count();
    assert_eq!(created, 1);
    assert_eq!(s.users_list().await.unwrap().len(), 1);
    // Once an owner exists, setup is over even with a new token.
    s.setup_token_replace(h(3), t + 600).await.unwrap();
    assert!(matches!(
        s.setup_create_owner(h(3), t, "x".into(), "phc".into())
            .await
            .unwrap(),
        SetupOutcome::Gone
    ));
}

async fn agent_keys_follow_revocation_and_their_creator<
    S: CredentialStore + UserStore + 'static,
>(
    s: Arc<S>,
) {
    let t = now();
    s.user_create("own".into(), Role::Owner, None)
        .await
        .unwrap();
    let admin = s
        .user_create("adm".into(), Role::Admin, None)
        .await
        .unwrap();
    let key = s
        .agent_key_create(NewAgentKey {
            name: "ci".into(),
            hash: h(50),
            permissions: vec!["chat:read".into(), "chat:write".into()],
            created_by: admin.id,
            expires_at: Some(t + DAY),
            rate_limit_per_minute: Some(30),
        })
        .await
        .unwrap();
    assert_eq!(key.permissions, ["chat:read", "chat:write"]);
    assert_eq!(key.rate_limit_per_minute, Some(30));
    assert_eq!(key.created_by, Some(admin.id));
    assert!(key.revoked_at.is_none() && key.last_used_at.is_none());
    let found = s.agent_key_by_hash(h(50)).await.unwrap().unwrap();
    assert_eq!(found.id, key.id);
    assert_eq!(found.creator_role, Some(Role::Admin));
    assert!(s.agent_key_by_hash(h(51)).await.unwrap().is_none());
    s.agent_key_touch(key.row_id, t).await.unwrap();
    let listed = s.agent_keys_list().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].last_used_at, Some(t));

    // A bearer exchanged for the key lives and dies with it.
    s.session_create(
        NewSession {
            owner: SessionOwner::AgentKey(key.row_id),
            kind: SessionKind::Token,
            csrf_hash: None,
            expires_at: t + 3600,
            ip: None,
        },
        vec![token(h(60), "access", t + 3600)],
    )
    .await
    .unwrap();
    let bearer = s
        .session_by_token(h(60), "access", t, IDLE)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        bearer.agent_key.as_ref().map(|k| k.row_id),
        Some(key.row_id)
    );
    assert!(bearer.user.is_none());
    // Past the key's own expiry, its bearer is dead too.
    assert!(
        s.session_by_token(h(60), "access", t + DAY + 1, IDLE)
            .await
            .unwrap()
            .is_none()
    );

    // The creator's role is read now; a disabled creator's key is nothing.
    s.user_set_role(admin.id, Role::Member).await.unwrap();
    assert_eq!(
        s.agent_key_by_hash(h(50))
            .await
            .unwrap()
            .unwrap()
            .creator_role,
        Some(Role::Member)
    );
    s.user_set_disabled(admin.id, true).await.unwrap();
    assert!(s.agent_key_by_hash(h(50)).await.unwrap().is_none());
    assert!(
        s.session_by_token(h(60), "access", t, IDLE)
            .await
            .unwrap()
            .is_none()
    );
    s.user_set_disabled(admin.id, false).await.unwrap();

    // Revocation: not found for authentication, told apart from unknown.
    let revoked = s.agent_key_revoke(key.id.clone()).await.unwrap();
    assert!(revoked.revoked_at.is_some());
    assert!(s.agent_key_by_hash(h(50)).await.unwrap().is_none());
    assert_eq!(
        s.agent_key_revoked(h(50)).await.unwrap(),
        Some(key.id.clone())
    );
    assert_eq!(s.agent_key_revoked(h(51)).await.unwrap(), None);
    assert!(
        s.session_by_token(h(60), "access", t, IDLE)
            .await
            .unwrap()
            .is_none()
    );
    assert!(matches!(
        s.agent_key_revoke("no-such-key".into()).await,
        Err(StoreError::NotFound)
    ));
    let deleted = s.agent_key_delete(key.id.clone()).await.unwrap();
    assert_eq!(deleted.row_id, key.row_id);
    assert!(matches!(
        s.agent_key_delete(key.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(s.agent_keys_list().await.unwrap().is_empty());
}

async fn identity_keys_replace_the_old_one<S: CredentialStore + UserStore + 'static>(s: Arc<S>) {
    s.user_create("own".into(), Role::Owner, None)
        .await
        .unwrap();
    let user = s.user_create("u".into(), Role::Member, None).await.unwrap();
    assert!(!s.identity_key_replace(user.id, h(70)).await.unwrap());
    assert_eq!(
        s.identity_key_user(h(70)).await.unwrap().map(|u| u.id),
        Some(user.id)
    );
    assert!(s.identity_key_replace(user.id, h(71)).await.unwrap());
    assert!(s.identity_key_user(h(70)).await.unwrap().is_none());
    assert!(s.identity_key_user(h(71)).await.unwrap().is_some());
    s.user_set_disabled(user.id, true).await.unwrap();
    assert!(s.identity_key_user(h(71)).await.unwrap().is_none());
    // A key for a user that does not exist is refused.
    assert!(s.identity_key_replace(999_999, h(72)).await.is_err());
}
