//! Which agents answer a message.
//!
//! Pure: the caller supplies who wrote the message, the conversation's
//! kind, default agent and enabled agent members, and the mentions the
//! server resolved. Guests, agents and automation keys never trigger an
//! agent (no loops: agents reach each other only through `call_agent`).

use crate::store::chat::Ref;

/// Who wrote the message, as far as routing cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sender {
    /// A signed-in person who may post (member, admin, owner).
    Member,
    Guest,
    Agent,
    /// An agent key (automation or outside agent).
    Key,
}

/// The conversation facts routing needs.
#[derive(Clone, Debug)]
pub struct Room<'a> {
    pub direct: bool,
    pub default_agent: Option<i64>,
    /// Enabled agent members, by id.
    pub agents: &'a [i64],
}

/// The agents to run, in a stable order, without duplicates.
pub fn responders(sender: Sender, room: &Room<'_>, mentions: &[Ref]) -> Vec<i64> {
    if sender != Sender::Member {
        return Vec::new();
    }
    if room.direct {
        return room.agents.to_vec();
    }
    let mut out: Vec<i64> = mentions
        .iter()
        .filter_map(|m| match m {
            Ref::Agent { id, .. } if room.agents.contains(id) => Some(*id),
            _ => None,
        })
        .collect();
    out.sort_unstable();
    out.dedup();
    if out.is_empty()
        && let Some(d) = room.default_agent.filter(|d| room.agents.contains(d))
    {
        out.push(d);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn agent(id: i64) -> Ref {
        Ref::Agent {
            id,
            name: format!("a{id}"),
        }
    }

    fn user(id: i64) -> Ref {
        Ref::User {
            id,
            name: format!("u{id}"),
        }
    }

    const GROUP: Room<'static> = Room {
        direct: false,
        default_agent: Some(2),
        agents: &[1, 2, 3],
    };

    #[test]
    fn mentions_run_in_parallel_and_beat_the_default() {
        assert_eq!(
            responders(
                Sender::Member,
                &GROUP,
                &[agent(3), user(9), agent(1), agent(3)]
            ),
            vec![1, 3]
        );
    }

    #[test]
    fn no_mention_means_the_default_agent() {
        assert_eq!(responders(Sender::Member, &GROUP, &[user(9)]), vec![2]);
        let none = Room {
            default_agent: None,
            ..GROUP
        };
        assert!(responders(Sender::Member, &none, &[]).is_empty());
        // A default agent that left the group does not answer.
        let gone = Room {
            default_agent: Some(7),
            ..GROUP
        };
        assert!(responders(Sender::Member, &gone, &[]).is_empty());
    }

    #[test]
    fn non_member_agents_are_ignored_even_when_mentioned() {
        assert_eq!(responders(Sender::Member, &GROUP, &[agent(42)]), vec![2]);
    }

    #[test]
    fn direct_conversations_always_answer() {
        let direct = Room {
            direct: true,
            default_agent: None,
            agents: &[5],
        };
        assert_eq!(responders(Sender::Member, &direct, &[]), vec![5]);
    }

    proptest! {
        #[test]
        fn guests_agents_and_keys_never_trigger(
            ids in proptest::collection::vec(0i64..6, 0..8),
            direct in any::<bool>(),
        ) {
            let mentions: Vec<Ref> = ids.iter().map(|i| agent(*i)).collect();
            let room = Room { direct, default_agent: Some(1), agents: &[1, 2, 3] };
            for s in [Sender::Guest, Sender::Agent, Sender::Key] {
                prop_assert!(responders(s, &room, &mentions).is_empty());
            }
            let out = responders(Sender::Member, &room, &mentions);
            prop_assert!(out.iter().all(|a| room.agents.contains(a)));
            let mut sorted = out.clone();
            sorted.dedup();
            prop_assert_eq!(sorted, out);
        }
    }
}
