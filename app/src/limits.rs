//! Rate limits: each agent's own per-minute budget on every call; budgets of
//! failed logins per agent and source address and of failed logins,
//! refreshes and enrollments per source address; and a budget of refreshes
//! per agent.
//!
//! Only failures spend the login budgets: many agents behind one address (a
//! NAT, a restarted fleet) all log in, while guessing a secret stays slow.
//! The budget of one agent is kept per address so that failures sent from
//! elsewhere by someone who merely knows the agent's id cannot lock it out.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use agentledger_domain::ids::AgentId;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

/// Per-minute budgets; every one is configurable on `serve`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitsConfig {
    /// Failed logins for one agent id from one address.
    pub login_failures_per_agent_and_address: u32,
    /// Failed logins, refreshes and enrollments from one address, whatever
    /// the agent.
    pub failures_per_address: u32,
    /// Refreshes of one agent's tokens (a refresh appends an event).
    pub refreshes_per_agent: u32,
    /// Live feeds (SSE and WebSocket) open at once.
    pub live_feeds: usize,
    /// Of those, how many one tenant may hold.
    pub live_feeds_per_tenant: usize,
    /// Which addresses the server may call on a tenant's behalf (webhooks).
    pub address_policy: agentledger_domain::address::AddressPolicy,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            login_failures_per_agent_and_address: 10,
            failures_per_address: 30,
            refreshes_per_agent: 10,
            live_feeds: 512,
            live_feeds_per_tenant: 128,
            address_policy: agentledger_domain::address::AddressPolicy::default(),
        }
    }
}

pub struct Limits {
    agents: Mutex<HashMap<AgentId, (u32, DefaultDirectRateLimiter)>>,
    failures_by_agent_and_address: Budget<(AgentId, IpAddr)>,
    failures_by_address: Budget<IpAddr>,
    refreshes_by_agent: Budget<AgentId>,
}

/// A login or refresh let through, to be reported to `Limits::failed` if it
/// failed.
///
/// Nothing is held while it runs: a unit held by each attempt until it is
/// known to have succeeded would refuse a fleet behind one address that logs
/// in all at once. So a burst of concurrent guesses may all be let through
/// before the first of them fails; what they fail beyond the budget is owed,
/// and the address waits that much longer, so over time no more get through
/// than the budget allows.
#[derive(Debug, Clone, Copy)]
pub struct Attempt {
    /// For logins: the agent whose failures from this address are counted.
    agent: Option<AgentId>,
    address: IpAddr,
}

fn per_minute(n: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN))
}

impl Default for Limits {
    fn default() -> Self {
        Self::new(LimitsConfig::default())
    }
}

impl Limits {
    pub fn new(config: LimitsConfig) -> Self {
        Self {
            agents: Mutex::new(HashMap::new()),
            failures_by_agent_and_address: Budget::per_minute(
                config.login_failures_per_agent_and_address,
            ),
            failures_by_address: Budget::per_minute(config.failures_per_address),
            refreshes_by_agent: Budget::per_minute(config.refreshes_per_agent),
        }
    }

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

    /// A login for `agent` from `address`, refused (with how long to wait)
    /// when either has used up its failures.
    pub fn login_attempt(&self, agent: AgentId, address: IpAddr) -> Result<Attempt, Duration> {
        let now = Instant::now();
        self.failures_by_address.check(&address, now)?;
        self.failures_by_agent_and_address
            .check(&(agent, address), now)?;
        Ok(Attempt {
            agent: Some(agent),
            address,
        })
    }

    /// An enrollment from `address`, refused when the address has used up
    /// its failures: tokens cannot be guessed, but each try costs a read of
    /// the log, and anyone may send them.
    pub fn enroll_attempt(&self, address: IpAddr) -> Result<Attempt, Duration> {
        self.failures_by_address.check(&address, Instant::now())?;
        Ok(Attempt {
            agent: None,
            address,
        })
    }

    /// A refresh from `address` of a token naming `agent` (if it names one),
    /// refused when the address has used up its failures or the agent its
    /// refreshes. Only refreshes that happened spend an agent's budget, so a
    /// stranger's failures cannot spend it.
    pub fn refresh_attempt(
        &self,
        agent: Option<AgentId>,
        address: IpAddr,
    ) -> Result<Attempt, Duration> {
        let now = Instant::now();
        if let Some(agent) = agent {
            self.refreshes_by_agent.check(&agent, now)?;
        }
        self.failures_by_address.check(&address, now)?;
        Ok(Attempt {
            agent: None,
            address,
        })
    }

    /// The attempt failed: it spends the failure budgets it was checked
    /// against.
    pub fn failed(&self, attempt: Attempt) {
        let now = Instant::now();
        self.failures_by_address.spend(&attempt.address, now);
        if let Some(agent) = attempt.agent {
            self.failures_by_agent_and_address
                .spend(&(agent, attempt.address), now);
        }
    }

    /// `agent`'s tokens were refreshed: that spends its refresh budget.
    pub fn refreshed(&self, agent: AgentId) {
        self.refreshes_by_agent.spend(&agent, Instant::now());
    }
}

/// A budget of `n` per minute per key (GCRA: each key keeps the moment its
/// budget will be whole again), which, unlike governor's keyed limiters, can
/// be checked without spending it, and spent past its end.
struct Budget<K> {
    /// What one unit costs: a minute divided by `n`.
    interval: Duration,
    /// The whole budget: `n` units.
    burst: Duration,
    ledger: Mutex<Ledger<K>>,
}

struct Ledger<K> {
    /// When each key's budget is whole again; keys whose moment has passed
    /// are whole and may be dropped.
    whole_at: HashMap<K, Instant>,
    /// The size past which passed entries are swept out, so callers that
    /// vary their keys cannot grow the map without bound.
    sweep_at: usize,
}

const MIN_SWEEP: usize = 1024;

impl<K: Hash + Eq + Clone> Budget<K> {
    fn per_minute(n: u32) -> Self {
        let n = n.max(1);
        let interval = Duration::from_secs(60) / n;
        Self {
            interval,
            burst: interval * n,
            ledger: Mutex::new(Ledger {
                whole_at: HashMap::new(),
                sweep_at: MIN_SWEEP,
            }),
        }
    }

    /// `Err` with how long to wait when one more unit is not available now.
    fn check(&self, key: &K, now: Instant) -> Result<(), Duration> {
        let ledger = self.ledger.lock().unwrap_or_else(PoisonError::into_inner);
        let whole_at = ledger.whole_at.get(key).map_or(now, |t| (*t).max(now));
        let owed = (whole_at + self.interval).duration_since(now);
        match owed.checked_sub(self.burst) {
            Some(wait) if !wait.is_zero() => Err(wait),
            _ => Ok(()),
        }
    }

    /// Spends a unit, even past the budget: what it counts has happened.
    fn spend(&self, key: &K, now: Instant) {
        let mut ledger = self.ledger.lock().unwrap_or_else(PoisonError::into_inner);
        let whole_at = ledger.whole_at.get(key).map_or(now, |t| (*t).max(now));
        ledger
            .whole_at
            .insert(key.clone(), whole_at + self.interval);
        if ledger.whole_at.len() >= ledger.sweep_at {
            ledger.whole_at.retain(|_, t| *t > now);
            ledger.sweep_at = (ledger.whole_at.len() * 2).max(MIN_SWEEP);
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        let ledger = self.ledger.lock().unwrap_or_else(PoisonError::into_inner);
        ledger.whole_at.len()
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
    fn logins_that_did_not_fail_spend_nothing() {
        let limits = Limits::default();
        let address: IpAddr = [10, 0, 0, 1].into();
        let agent = AgentId::new();
        for _ in 0..100 {
            if let Err(wait) = limits.login_attempt(agent, address) {
                panic!("refused after successes: {wait:?}");
            }
        }
    }

    fn fail_login(limits: &Limits, agent: AgentId, address: IpAddr) -> Result<(), Duration> {
        limits
            .login_attempt(agent, address)
            .map(|attempt| limits.failed(attempt))
    }

    #[test]
    fn failures_are_limited_per_agent_and_address_and_per_address() {
        let config = LimitsConfig::default();
        let limits = Limits::new(config);
        let (here, there): (IpAddr, IpAddr) = ([10, 0, 0, 1].into(), [10, 0, 0, 2].into());
        let agent = AgentId::new();
        for _ in 0..config.login_failures_per_agent_and_address {
            assert!(fail_login(&limits, agent, here).is_ok());
        }
        assert!(fail_login(&limits, agent, here).is_err());
        assert!(
            limits.login_attempt(agent, there).is_ok(),
            "failures from one address do not lock the agent out of another"
        );
        let mut allowed = config.login_failures_per_agent_and_address;
        for _ in 0..config.failures_per_address {
            if fail_login(&limits, AgentId::new(), here).is_ok() {
                allowed += 1;
            }
        }
        assert_eq!(allowed, config.failures_per_address);
    }

    #[test]
    fn refreshes_spend_the_agents_budget_only_when_they_happen() {
        let config = LimitsConfig::default();
        let limits = Limits::new(config);
        let address: IpAddr = [10, 0, 0, 1].into();
        let agent = AgentId::new();
        for _ in 0..config.failures_per_address {
            match limits.refresh_attempt(Some(agent), address) {
                Ok(attempt) => limits.failed(attempt),
                Err(wait) => panic!("failed refreshes spend no agent's budget: {wait:?}"),
            }
        }
        assert!(limits.refresh_attempt(None, address).is_err());
        assert!(
            limits
                .refresh_attempt(Some(agent), [10, 0, 0, 2].into())
                .is_ok()
        );
        for _ in 0..config.refreshes_per_agent {
            limits.refreshed(agent);
        }
        assert!(
            limits
                .refresh_attempt(Some(agent), [10, 0, 0, 2].into())
                .is_err()
        );
        assert!(
            limits
                .refresh_attempt(Some(AgentId::new()), [10, 0, 0, 2].into())
                .is_ok()
        );
    }

    #[test]
    fn refused_enrollments_spend_the_addresss_failures_as_logins_do() {
        let config = LimitsConfig::default();
        let limits = Limits::new(config);
        let (here, there): (IpAddr, IpAddr) = ([10, 0, 0, 1].into(), [10, 0, 0, 2].into());
        for _ in 0..config.failures_per_address {
            match limits.enroll_attempt(here) {
                Ok(attempt) => limits.failed(attempt),
                Err(wait) => panic!("refused within the budget: {wait:?}"),
            }
        }
        assert!(limits.enroll_attempt(here).is_err());
        assert!(limits.login_attempt(AgentId::new(), here).is_err());
        assert!(limits.enroll_attempt(there).is_ok());
    }

    #[test]
    fn a_budget_refills_one_unit_per_interval_and_forgets_whole_keys() {
        let budget = Budget::<u32>::per_minute(6);
        let start = Instant::now();
        for _ in 0..6 {
            assert!(budget.check(&1, start).is_ok());
            budget.spend(&1, start);
        }
        assert_eq!(budget.check(&1, start), Err(Duration::from_secs(10)));
        assert!(budget.check(&1, start + Duration::from_secs(9)).is_err());
        assert!(budget.check(&1, start + Duration::from_secs(10)).is_ok());
        // What is spent past the end is owed.
        budget.spend(&1, start);
        assert_eq!(budget.check(&1, start), Err(Duration::from_secs(20)));

        // Keys whose budget is whole again are swept once the map is large.
        for key in 2..MIN_SWEEP as u32 {
            budget.spend(&key, start);
        }
        assert_eq!(budget.len(), MIN_SWEEP - 1);
        budget.spend(&0, start + Duration::from_secs(120));
        assert_eq!(budget.len(), 1, "only the key spent since is left");
    }
}
