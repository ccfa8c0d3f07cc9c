//! Rate limits: failed logins per (IP, e-mail), and API requests per tenant.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::error::AppError;
use crate::ids::TenantId;

pub struct Limits {
    tenant: DefaultKeyedRateLimiter<TenantId>,
    logins: Mutex<HashMap<(IpAddr, String), Vec<Instant>>>,
    login_max: usize,
    login_window: Duration,
}

impl Limits {
    pub fn new(api_per_min: u32, login_max: u32, login_window_secs: u64) -> Limits {
        let per_min = NonZeroU32::new(api_per_min.max(1)).unwrap_or(NonZeroU32::MIN);
        Limits {
            tenant: RateLimiter::keyed(Quota::per_minute(per_min)),
            logins: Mutex::new(HashMap::new()),
            login_max: login_max.max(1) as usize,
            login_window: Duration::from_secs(login_window_secs.max(1)),
        }
    }

    pub fn check_tenant(&self, tenant: TenantId) -> Result<(), AppError> {
        self.tenant.check_key(&tenant).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            metrics::counter!("rate_limited_total", "kind" => "api").increment(1);
            AppError::TooManyRequests {
                code: "rate_limited",
                retry_after_secs: wait.as_secs().max(1),
            }
        })
    }

    /// Refuses a login attempt while this (IP, e-mail) has too many recent failures.
    pub fn check_login(&self, ip: IpAddr, email: &str) -> Result<(), AppError> {
        let now = Instant::now();
        let mut map = self.logins.lock().unwrap_or_else(|p| p.into_inner());
        let key = (ip, email.to_lowercase());
        if let Some(fails) = map.get_mut(&key) {
            fails.retain(|t| now.duration_since(*t) < self.login_window);
            if fails.len() >= self.login_max {
                let oldest = fails.first().copied().unwrap_or(now);
                let wait = self.login_window.saturating_sub(now.duration_since(oldest));
                metrics::counter!("rate_limited_total", "kind" => "login").increment(1);
                return Err(AppError::TooManyRequests {
                    code: "too_many_login_attempts",
                    retry_after_secs: wait.as_secs().max(1),
                });
            }
        }
        Ok(())
    }

    pub fn login_failed(&self, ip: IpAddr, email: &str) {
        let mut map = self.logins.lock().unwrap_or_else(|p| p.into_inner());
        // Keep the map from growing without bound under a spray of addresses.
        if map.len() > 100_000 {
            let window = self.login_window;
            map.retain(|_, v| v.last().is_some_and(|t| t.elapsed() < window));
        }
        map.entry((ip, email.to_lowercase()))
            .or_default()
            .push(Instant::now());
    }

    pub fn login_succeeded(&self, ip: IpAddr, email: &str) {
        let mut map = self.logins.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(&(ip, email.to_lowercase()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_failures_block_the_sixth_attempt_for_that_ip_and_email_only() {
        let l = Limits::new(600, 5, 300);
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        for _ in 0..5 {
            l.check_login(ip, "a@x.com").unwrap();
            l.login_failed(ip, "a@x.com");
        }
        let err = l.check_login(ip, "A@x.com").unwrap_err();
        assert_eq!(err.code(), "too_many_login_attempts");
        l.check_login(ip, "b@x.com").unwrap();
    }

    #[test]
    fn tenant_quota_is_per_tenant() {
        let l = Limits::new(2, 5, 300);
        let (a, b) = (TenantId::new(), TenantId::new());
        l.check_tenant(a).unwrap();
        l.check_tenant(a).unwrap();
        assert!(l.check_tenant(a).is_err());
        l.check_tenant(b).unwrap();
    }
}
