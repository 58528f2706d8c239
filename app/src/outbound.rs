//! The HTTP client for every URL the server calls on someone's behalf
//! (webhook deliveries, task callbacks, tools and MCP servers): it resolves
//! names only through [`PolicyResolver`], which hands it the addresses the
//! outbound policy allows and nothing else, so the address connected to is
//! one that was checked (no second lookup); it follows no redirect and uses
//! no proxy. A URL naming an IP literal needs no lookup: callers check it
//! with `AddressPolicy::check_url` before the request.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use agentledger_domain::address::AddressPolicy;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

#[derive(Debug, thiserror::Error)]
#[error("{host} resolves to no address the outbound policy allows")]
struct RefusedAddress {
    host: String,
}

/// Resolves names for the delivery client, keeping only the addresses the
/// policy allows.
struct PolicyResolver(AddressPolicy);

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.0;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found = tokio::net::lookup_host((host.as_str(), 0)).await?;
            let allowed: Vec<SocketAddr> = found.filter(|a| policy.allows(a.ip())).collect();
            if allowed.is_empty() {
                return Err(Box::new(RefusedAddress { host }).into());
            }
            let addrs: Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

/// A client held to `policy`, giving up after `timeout`.
pub(crate) fn client(
    policy: AddressPolicy,
    timeout: Duration,
    user_agent: &'static str,
) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .no_proxy()
        .dns_resolver(Arc::new(PolicyResolver(policy)))
        .user_agent(user_agent)
        .build()
}

/// The error and its causes, which is where reqwest says what went wrong
/// (a refused address, a refused connection, a TLS failure).
pub(crate) fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn names_resolve_only_to_addresses_the_policy_allows() {
        let name = |host: &str| host.parse::<Name>().unwrap_or_else(|e| panic!("{e}"));
        let strict = PolicyResolver(AddressPolicy::default());
        let refused = strict.resolve(name("localhost")).await;
        assert!(refused.is_err_and(|e| {
            e.to_string()
                .contains("no address the outbound policy allows")
        }));
        let loopback = PolicyResolver(AddressPolicy {
            allow_loopback: true,
        });
        let allowed: Vec<SocketAddr> = match loopback.resolve(name("localhost")).await {
            Ok(addrs) => addrs.collect(),
            Err(e) => panic!("{e}"),
        };
        assert!(!allowed.is_empty() && allowed.iter().all(|a| a.ip().is_loopback()));
    }
}
