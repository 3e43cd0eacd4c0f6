//! Budgets: tokens per turn, tokens per conversation per UTC day, and a
//! daily spend cap per agent.
//!
//! Checked before every provider call, and the call's `max_tokens` is cut
//! to what is left, so a limit is never overrun by more than the prompt of
//! the call that reaches it. When a limit is reached nothing more is spent.

use super::providers::Usage;
use crate::store::agents::{AgentRow, ProviderRow};
use crate::store::{Store, StoreError};

/// The most output one call may ask for, whatever the budget.
const MAX_OUTPUT_PER_CALL: i64 = 8192;
/// Below this many tokens left, a call is not worth starting.
const MIN_USEFUL: i64 = 16;

/// The UTC day usage is counted against (`YYYY-MM-DD`).
pub fn today() -> String {
    let now = time::OffsetDateTime::now_utc();
    format!(
        "{:04}-{:02}-{:02}",
        now.year(),
        u8::from(now.month()),
        now.day()
    )
}

/// What a call cost, in millionths of a dollar.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Spend {
    pub micros: i64,
}

impl Spend {
    /// Prices are per million tokens; rounds up so a cap is never undercut.
    pub fn of(row: &ProviderRow, u: Usage) -> Spend {
        let cost = u128::from(u.input_tokens) * row.input_micros_per_mtok.max(0) as u128
            + u128::from(u.output_tokens) * row.output_micros_per_mtok.max(0) as u128;
        Spend {
            micros: i64::try_from(cost.div_ceil(1_000_000)).unwrap_or(i64::MAX),
        }
    }
}

/// Tokens left this turn, given what it used so far: `Ok(max_tokens)` for
/// the next call, or `Err(explanation)` when a limit is reached.
pub fn remaining(
    agent: &AgentRow,
    used_this_turn: Usage,
    conversation_today: i64,
    spend_today: i64,
) -> Result<u32, String> {
    let b = agent.budgets;
    if let Some(cap) = b.daily_spend_micros
        && spend_today >= cap
    {
        return Err(format!(
            "I have reached my daily spending cap (${:.2}). An admin can raise it in my settings; it resets at midnight UTC.",
            super::model::micros_to_usd(cap)
        ));
    }
    let day_left = b.tokens_per_conversation_day - conversation_today;
    if day_left < MIN_USEFUL {
        return Err(format!(
            "I have used today's token budget for this conversation ({} tokens). It resets at midnight UTC, or an admin can raise it.",
            b.tokens_per_conversation_day
        ));
    }
    let used = (used_this_turn.input_tokens + used_this_turn.output_tokens) as i64;
    let turn_left = b.tokens_per_turn - used;
    if turn_left < MIN_USEFUL {
        return Err(format!(
            "This answer reached my per-turn token budget ({} tokens), so I stopped.",
            b.tokens_per_turn
        ));
    }
    let left = turn_left.min(day_left).min(MAX_OUTPUT_PER_CALL);
    Ok(u32::try_from(left).unwrap_or(u32::MAX))
}

/// Looks up today's usage and applies [`remaining`].
pub async fn allowance(
    store: &Store,
    agent: &AgentRow,
    conversation_id: i64,
    used_this_turn: Usage,
) -> Result<Result<u32, String>, StoreError> {
    let today = store
        .usage_today(agent.id, conversation_id, today())
        .await?;
    Ok(remaining(
        agent,
        used_this_turn,
        today.conversation_tokens,
        today.agent_spend_micros,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::agents::Budgets;

    fn agent(b: Budgets) -> AgentRow {
        AgentRow {
            id: 1,
            uuid: String::new(),
            handle: "a".into(),
            name: "A".into(),
            description: String::new(),
            model: "openai/x".into(),
            tools: vec![],
            memory: true,
            knowledge: true,
            context_tokens: 8192,
            budgets: b,
            disabled: false,
            created_by: None,
            created_at: 0,
            updated_at: 0,
        }
    }

    const B: Budgets = Budgets {
        tokens_per_turn: 1000,
        tokens_per_conversation_day: 5000,
        daily_spend_micros: Some(2_000_000),
    };

    #[test]
    fn max_tokens_is_what_is_left() {
        let used = Usage {
            input_tokens: 300,
            output_tokens: 100,
        };
        assert_eq!(remaining(&agent(B), used, 0, 0), Ok(600));
        assert_eq!(remaining(&agent(B), Usage::default(), 4800, 0), Ok(200));
    }

    #[test]
    fn each_limit_stops_the_turn() {
        let used = Usage {
            input_tokens: 990,
            output_tokens: 0,
        };
        assert!(
            remaining(&agent(B), used, 0, 0)
                .unwrap_err()
                .contains("per-turn")
        );
        assert!(
            remaining(&agent(B), Usage::default(), 5000, 0)
                .unwrap_err()
                .contains("today")
        );
        assert!(
            remaining(&agent(B), Usage::default(), 0, 2_000_000)
                .unwrap_err()
                .contains("spending cap")
        );
    }

    #[test]
    fn spend_rounds_up() {
        let row = ProviderRow {
            name: "p".into(),
            kind: "openai".into(),
            base_url: String::new(),
            models: vec![],
            embedding_model: None,
            input_micros_per_mtok: 150_000,
            output_micros_per_mtok: 600_000,
            created_at: 0,
            updated_at: 0,
        };
        let s = Spend::of(
            &row,
            Usage {
                input_tokens: 1,
                output_tokens: 1,
            },
        );
        assert_eq!(s.micros, 1);
        let s = Spend::of(
            &row,
            Usage {
                input_tokens: 1_000_000,
                output_tokens: 1_000_000,
            },
        );
        assert_eq!(s.micros, 750_000);
    }
}
