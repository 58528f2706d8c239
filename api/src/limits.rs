//! Rate limits: each agent's own per-minute budget on every call, and a fixed
//! budget of login attempts per agent id and per source address.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use agentledger_domain::ids::AgentId;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Login attempts per minute for one agent id, and for one source address.
pub const LOGINS_PER_AGENT_PER_MINUTE: u32 = 10;
pub const LOGINS_PER_ADDRESS_PER_MINUTE: u32 = 30;

pub struct Limits {
    agents: Mutex<HashMap<AgentId, (u32, DefaultDirectRateLimiter)>>,
    logins_by_agent: DefaultKeyedRateLimiter<AgentId>,
    logins_by_address: DefaultKeyedRateLimiter<IpAddr>,
}

fn per_minute(n: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN))
}

fn keyed_check<K: Hash + Eq + Clone>(
    limiter: &DefaultKeyedRateLimiter<K>,
    key: &K,
) -> Result<(), Duration> {
    limiter
        .check_key(key)
        .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            agents: Mutex::new(HashMap::new()),
            logins_by_agent: RateLimiter::keyed(per_minute(LOGINS_PER_AGENT_PER_MINUTE)),
            logins_by_address: RateLimiter::keyed(per_minute(LOGINS_PER_ADDRESS_PER_MINUTE)),
        }
    }
}

impl Limits {
    /// One call by `agent`, whose limit is `limit` per minute. `Err` carries
    /// how long to wait.
    pub fn agent_call(&self, agent: AgentId, limit: u32) -> Result<(), Duration> {
        let mut agents = self.agents.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = agents
            .entry(agent)
            .or_insert_with(|| (limit, RateLimiter::direct(per_minute(limit))));
        if entry.0 != limit {
            // The operator changed the limit: start afresh with the new one.
            *entry = (limit, RateLimiter::direct(per_minute(limit)));
        }
        entry
            .1
            .check()
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }

    pub fn login_attempt(&self, agent: AgentId, address: Option<IpAddr>) -> Result<(), Duration> {
        keyed_check(&self.logins_by_agent, &agent)?;
        match address {
            Some(address) => keyed_check(&self.logins_by_address, &address),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_agent_gets_its_own_budget_and_a_new_one_when_it_changes() {
        let limits = Limits::default();
        let (a, b) = (AgentId::new(), AgentId::new());
        assert!((0..3).all(|_| limits.agent_call(a, 3).is_ok()));
        let wait = limits.agent_call(a, 3);
        assert!(wait.is_err_and(|d| d > Duration::ZERO && d <= Duration::from_secs(20)));
        assert!(limits.agent_call(b, 3).is_ok(), "budgets are per agent");
        assert!(
            limits.agent_call(a, 10).is_ok(),
            "a changed limit starts afresh"
        );
    }

    #[test]
    fn login_attempts_are_limited_per_agent_and_per_address() {
        let limits = Limits::default();
        let agent = AgentId::new();
        for _ in 0..LOGINS_PER_AGENT_PER_MINUTE {
            assert!(limits.login_attempt(agent, None).is_ok());
        }
        assert!(limits.login_attempt(agent, None).is_err());
        let address: IpAddr = [10, 0, 0, 1].into();
        let mut allowed = 0;
        for _ in 0..LOGINS_PER_ADDRESS_PER_MINUTE + 5 {
            if limits.login_attempt(AgentId::new(), Some(address)).is_ok() {
                allowed += 1;
            }
        }
        assert_eq!(allowed, LOGINS_PER_ADDRESS_PER_MINUTE);
    }
}
