//! The users aggregate (`store::users::UserStore`).

use std::sync::Arc;

use hardshell::auth::Role;
use hardshell::store::StoreError;
use hardshell::store::users::UserStore;

both!(users_and_the_last_owner);
both!(racing_owner_demotions_leave_an_owner);

async fn users_and_the_last_owner<S: UserStore + 'static>(s: Arc<S>) {
    assert!(!s.owner_exists().await.unwrap());
    let owner = s
        .user_create("Root".into(), Role::Owner, None)
        .await
        .unwrap();
    assert!(s.owner_exists().await.unwrap());
    assert_eq!(owner.username, "Root");
    assert_eq!(owner.role, Role::Owner);
    assert!(!owner.disabled);
    assert_eq!(owner.uuid.len(), 36);

    // Usernames are unique in any ASCII case.
    assert!(matches!(
        s.user_create("rOOT".into(), Role::Guest, None).await,
        Err(StoreError::Conflict(_))
    ));
    let member = s
        .user_create("alice".into(), Role::Member, Some("phc-hash".into()))
        .await
        .unwrap();

    // Login lookup in any case, with the hash; unknown names are None.
    let (found, hash) = s.user_login_lookup("ALICE".into()).await.unwrap().unwrap();
    assert_eq!(found.id, member.id);
    assert_eq!(hash.as_deref(), Some("phc-hash"));
    assert!(s.user_login_lookup("bob".into()).await.unwrap().is_none());

    let list = s.users_list().await.unwrap();
    assert_eq!(
        list.iter().map(|u| u.username.as_str()).collect::<Vec<_>>(),
        ["Root", "alice"]
    );

    // The last active owner can be neither demoted, disabled nor deleted,
    // and a refused change leaves nothing behind.
    for res in [
        s.user_set_role(owner.id, Role::Admin).await.map(|_| ()),
        s.user_set_disabled(owner.id, true).await.map(|_| ()),
        s.user_delete(owner.id).await.map(|_| ()),
    ] {
        assert!(matches!(res, Err(StoreError::Conflict(_))), "{res:?}");
    }
    let again = s.user_by_id(owner.id).await.unwrap();
    assert_eq!(again.role, Role::Owner);
    assert!(!again.disabled);

    let (before, after) = s.user_set_role(member.id, Role::Admin).await.unwrap();
    assert_eq!((before.role, after.role), (Role::Member, Role::Admin));
    let disabled = s.user_set_disabled(member.id, true).await.unwrap();
    assert!(disabled.disabled);
    assert!(
        !s.user_set_disabled(member.id, false)
            .await
            .unwrap()
            .disabled
    );

    // Unknown ids are NotFound, for reads and writes.
    assert!(matches!(
        s.user_by_id(999_999).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.user_set_role(999_999, Role::Guest).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        s.user_delete(999_999).await,
        Err(StoreError::NotFound)
    ));

    let gone = s.user_delete(member.id).await.unwrap();
    assert_eq!(gone.id, member.id);
    assert!(matches!(
        s.user_by_id(member.id).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(s.users_list().await.unwrap().len(), 1);
}

/// Two owners demote each other at the same moment, many times over:
/// exactly one change wins each round and an owner always remains. On
/// PostgreSQL this needs the owners lock: both transactions would
/// otherwise count the other as still an owner and commit.
async fn racing_owner_demotions_leave_an_owner<S: UserStore + 'static>(s: Arc<S>) {
    let a = s.user_create("a".into(), Role::Owner, None).await.unwrap();
    let b = s.user_create("b".into(), Role::Owner, None).await.unwrap();
    for round in 0..25 {
        let (s1, s2) = (Arc::clone(&s), Arc::clone(&s));
        let (ra, rb) = tokio::join!(
            tokio::spawn(async move { s1.user_set_role(a.id, Role::Member).await }),
            tokio::spawn(async move { s2.user_set_role(b.id, Role::Member).await }),
        );
        let (ra, rb) = (ra.unwrap(), rb.unwrap());
        assert!(
            ra.is_ok() != rb.is_ok(),
            "round {round}: exactly one demotion must win: {ra:?} / {rb:?}"
        );
        assert!(
            s.owner_exists().await.unwrap(),
            "round {round}: no owner left"
        );
        // Put the loser back in the race.
        let demoted = if ra.is_ok() { a.id } else { b.id };
        s.user_set_role(demoted, Role::Owner).await.unwrap();
    }
}
