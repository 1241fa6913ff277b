//! Request rates: per principal (configurable per role and per tenant and
//! role), per client address for requests without a valid token, and a
//! tighter one per agent for the look-ups that can enumerate people
//! (`caseContextByFileNumber`, `caseContextByIdentity`). GCRA limiters from
//! `governor`, keyed by principal or address; a refusal says how long to
//! wait.

use crate::auth::{Principal, Role};
use domain::TenantId;
use governor::clock::{Clock, DefaultClock};
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

type Keyed<K> = RateLimiter<K, DefaultKeyedStateStore<K>, DefaultClock>;

/// How often (in checks) limiters forget keys that are back to full.
const FORGET_EVERY: u64 = 4_096;

/// Requests per minute; a burst of a quarter of that (at least one) may
/// come at once.
fn quota(per_minute: NonZeroU32) -> Quota {
    let burst = NonZeroU32::new(per_minute.get() / 4).unwrap_or(NonZeroU32::MIN);
    Quota::per_minute(per_minute).allow_burst(burst)
}

struct Limiter<K: std::hash::Hash + Eq + Clone> {
    inner: Keyed<K>,
    checks: AtomicU64,
}

impl<K: std::hash::Hash + Eq + Clone> Limiter<K> {
    fn new(per_minute: NonZeroU32) -> Self {
        Limiter {
            inner: RateLimiter::keyed(quota(per_minute)),
            checks: AtomicU64::new(0),
        }
    }

    fn check(&self, key: &K) -> Result<(), Duration> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % FORGET_EVERY == FORGET_EVERY - 1 {
            self.inner.retain_recent();
            self.inner.shrink_to_fit();
        }
        self.inner
            .check_key(key)
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }
}

/// The configured rates; zero or absent means no limit of that kind.
#[derive(Clone, Debug, Default)]
pub struct RateConfig {
    /// Requests without a valid token, per client address.
    pub anonymous_per_minute: u32,
    /// Requests per principal, unless a role says otherwise.
    pub per_minute: u32,
    pub roles: HashMap<Role, u32>,
    /// Per tenant and role, over `roles`.
    pub tenants: HashMap<TenantId, HashMap<Role, u32>>,
    /// People look-ups per agent.
    pub lookups_per_minute: u32,
}

/// The limiters of one server.
pub struct Rates {
    config: RateConfig,
    anonymous: Option<Limiter<IpAddr>>,
    /// One limiter per distinct rate, keyed by tenant and subject.
    principals: HashMap<u32, Limiter<(TenantId, String)>>,
    lookups: Option<Limiter<(TenantId, String)>>,
}

impl Rates {
    pub fn new(config: RateConfig) -> Rates {
        let mut rates: Vec<u32> = config.roles.values().copied().collect();
        rates.extend(config.tenants.values().flat_map(|r| r.values().copied()));
        rates.push(config.per_minute);
        let principals = rates
            .into_iter()
            .filter_map(|r| NonZeroU32::new(r).map(|nz| (r, Limiter::new(nz))))
            .collect();
        Rates {
            anonymous: NonZeroU32::new(config.anonymous_per_minute).map(Limiter::new),
            lookups: NonZeroU32::new(config.lookups_per_minute).map(Limiter::new),
            principals,
            config,
        }
    }

    /// No limits at all.
    pub fn unlimited() -> Rates {
        Rates::new(RateConfig::default())
    }

    /// The principal's rate: the most generous of its roles (tenant
    /// setting first, then the role's), else the default.
    fn rate_of(&self, p: &Principal) -> u32 {
        let tenant = self.config.tenants.get(&p.tenant);
        p.roles
            .iter()
            .filter_map(|role| {
                tenant
                    .and_then(|t| t.get(role))
                    .or_else(|| self.config.roles.get(role))
                    .copied()
            })
            .max()
            .unwrap_or(self.config.per_minute)
    }

    /// A request of an authenticated principal.
    pub fn check_principal(&self, p: &Principal) -> Result<(), Duration> {
        match self.principals.get(&self.rate_of(p)) {
            Some(limiter) => limiter.check(&(p.tenant.clone(), p.subject.as_str().to_owned())),
            None => Ok(()),
        }
    }

    /// A request without a valid token, from `address`.
    pub fn check_address(&self, address: IpAddr) -> Result<(), Duration> {
        match &self.anonymous {
            Some(limiter) => limiter.check(&address),
            None => Ok(()),
        }
    }

    /// A look-up of a person by file number or identity.
    pub fn check_lookup(&self, p: &Principal) -> Result<(), Duration> {
        match &self.lookups {
            Some(limiter) => limiter.check(&(p.tenant.clone(), p.subject.as_str().to_owned())),
            None => Ok(()),
        }
    }
}

/// Seconds for a `Retry-After` header: at least one.
pub fn retry_after_secs(wait: Duration) -> u64 {
    let whole = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    whole.max(1)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use domain::ActorId;

    fn principal(tenant: &str, subject: &str, roles: &[Role]) -> Principal {
        Principal {
            tenant: TenantId::parse(tenant).unwrap(),
            subject: ActorId::parse(subject).unwrap(),
            roles: roles.iter().copied().collect(),
            sensitive: false,
            claimant: None,
            office: None,
            expires_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn rates_follow_tenant_then_role_then_default() {
        let rates = Rates::new(RateConfig {
            per_minute: 8,
            roles: [(Role::Integrator, 40)].into_iter().collect(),
            tenants: [(
                TenantId::parse("beta").unwrap(),
                [(Role::Agent, 80)].into_iter().collect(),
            )]
            .into_iter()
            .collect(),
            ..Default::default()
        });
        assert_eq!(rates.rate_of(&principal("alpha", "a", &[Role::Agent])), 8);
        assert_eq!(rates.rate_of(&principal("beta", "a", &[Role::Agent])), 80);
        assert_eq!(
            rates.rate_of(&principal("alpha", "i", &[Role::Integrator])),
            40
        );
        // A burst of a quarter of the minute's rate, then refusals with a wait.
        let citizen = principal("alpha", "c", &[Role::Citizen]);
        assert!(rates.check_principal(&citizen).is_ok());
        assert!(rates.check_principal(&citizen).is_ok());
        let wait = rates.check_principal(&citizen).unwrap_err();
        assert!(wait > Duration::ZERO && wait <= Duration::from_secs(8));
        assert!(retry_after_secs(wait) >= 1);
        // Another person is not affected.
        assert!(rates
            .check_principal(&principal("alpha", "d", &[Role::Citizen]))
            .is_ok());
        // Nothing configured: no limit.
        let open = Rates::unlimited();
        for _ in 0..1_000 {
            assert!(open.check_principal(&citizen).is_ok());
            assert!(open.check_lookup(&citizen).is_ok());
        }
    }
}
